/// When a validly signed ticket is still good for a room: the rules every poll and join apply after the
/// MAC has been checked.
public struct TicketRules: Sendable, Equatable {
    /// Places a ticket may carry: positive, and small enough that every place arithmetic (and its
    /// conversion to a Double for the ETA) is exact and cannot overflow.
    public static let places: ClosedRange<Int64> = 1...(1 << 53)

    /// Tickets older than this are refused (a drop is long over by then).
    public var maximumAgeMs: Int64
    /// A ticket issued this far in the future (another instance's clock) is still accepted.
    public var clockSkewMs: Int64

    public init(maximumAgeMs: Int64 = 24 * 3_600 * 1_000, clockSkewMs: Int64 = 60_000) {
        self.maximumAgeMs = maximumAgeMs
        self.clockSkewMs = clockSkewMs
    }

    public enum Problem: Sendable, Equatable {
        /// Another room, or an earlier incarnation of this room (deleted and created again).
        case foreign
        /// Older than the maximum age, or issued implausibly far in the future.
        case expired
    }

    /// Nil when `ticket` is good for `room` (at `epoch`) at `nowMs`; otherwise why not.
    public func problem(with ticket: QueueTicket, room: String, epoch: String, nowMs: Int64) -> Problem? {
        guard ticket.room == room, ticket.epoch == epoch else { return .foreign }
        guard nowMs.subtractingClamped(ticket.issuedAtMs) <= maximumAgeMs, ticket.issuedAtMs.subtractingClamped(nowMs) <= clockSkewMs else {
            return .expired
        }
        return nil
    }
}
