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
    /// The turn has come and the entry gate reserved a moment `eta` away: poll again then — or, when the
    /// moment is near (``ShopperFlow/earlyTokenLimitMs``), go to checkout at it with the token handed out now.
    case entering(eta: ETARange, pollAfterMs: Int, early: EarlyEntry?)
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

/// The token for an entry moment a moment away: the page waits `entersInMs`, then goes to checkout, instead
/// of asking the gate again. The token's `nbf` is that moment (to the second, as JWTs count).
struct EarlyEntry: Sendable, Equatable {
    var token: String
    var checkoutUrl: String
    var expiresAt: Int64
    /// How long after this answer the entry moment is (relative, so no clock needs to agree with Redis's).
    var entersInMs: Int64
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
    /// A scheduled room's draw, for the page to show: sealed before opening, revealed after.
    var lottery: Lottery?

    struct Lottery: Sendable, Equatable {
        /// Hex SHA-256 of the lottery key, published when the opening time was set.
        var commitment: String?
        /// The key, once the room has opened.
        var key: String?
        /// The shopper's number in the pre-queue (their arrival order), when they are in it.
        var prequeueNumber: Int64?
    }
}
