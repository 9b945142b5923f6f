/// How an admission ended: the order service released the checkout, or consumed the token (an order).
public enum AdmissionEnd: String, Sendable, Equatable {
    case released
    case consumed
}
