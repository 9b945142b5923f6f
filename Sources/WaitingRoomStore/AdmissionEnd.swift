/// How an admission ended: the order service released the checkout, or consumed the token (an order), or
/// the session ran out (a ticket's admission is remembered for the ticket's life, so it is not claimed again).
public enum AdmissionEnd: String, Sendable, Equatable {
    case released
    case consumed
    case expired
}
