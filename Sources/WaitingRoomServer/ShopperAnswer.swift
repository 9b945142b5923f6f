import WaitingRoomCore
import WaitingRoomStore

/// What a shopper is told after a join or a status call: one typed answer, encoded in one place
/// (``ShopperReply/json``) for the API and rendered directly by the no-JavaScript page.
enum ShopperAnswer: Sendable, Equatable {
    /// In line, `position` people ahead; no ETA and `onHold` while nothing is being admitted.
    case waiting(position: Int64, eta: ETARange?, onHold: Bool, pollAfterMs: Int)
    case paused(position: Int64, pollAfterMs: Int)
    /// Before opening: the place is drawn by lottery at `opensAt`.
    case scheduled(opensInSeconds: Int, pollAfterMs: Int)
    case closed
    /// The turn has come and the entry gate reserved a moment `eta` away: poll again then.
    case entering(eta: ETARange, pollAfterMs: Int)
    /// The admission token, for checkout.
    case admitted(token: String, checkoutUrl: String, expiresAt: Int64)
    /// This ticket's admission is over.
    case done(AdmissionEnd)
    /// The offer lapsed before the shopper came back: join again.
    case expired

    var state: String {
        switch self {
        case .waiting: "waiting"
        case .paused: "paused"
        case .scheduled: "scheduled"
        case .closed: "closed"
        case .entering: "entering"
        case .admitted: "admitted"
        case .done: "done"
        case .expired: "expired"
        }
    }
}

/// A shopper's answer with what goes around it: their place, whether it came from a stale cache, and — on a
/// join — the ticket.
struct ShopperReply: Sendable, Equatable {
    var answer: ShopperAnswer
    /// The shopper's place in line, comparable with the board's `head` (their sequence number, or their drawn
    /// place once a pre-queue's lottery has run); nil for a pre-queued shopper before the draw.
    var place: Int64?
    /// Decided from a cache that could not refresh lately (Redis unreachable).
    var stale: Bool = false
    /// The signed ticket: on a join only.
    var ticket: String?
}
