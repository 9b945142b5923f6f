/// The Redis key layout. Every key of a room shares the hash tag `{room}`, so each script touches one
/// Cluster slot and rooms can be spread over several primaries.
public struct RoomKeys: Sendable {
    public let room: String

    public init(room: String) {
        self.room = room
    }

    private var prefix: String { "wr:{\(room)}:" }

    /// Hash: settings and counters (`tail`, `head`, `state`, …).
    public var state: String { prefix + "room" }
    /// Sorted set: claimed admissions by `jti`, scored by expiry (ms).
    public var active: String { prefix + "active" }
    /// Sorted set: offer batches `head:offeredAtMs:size`, scored by the head they advanced to.
    public var offers: String { prefix + "offers" }
    /// Hash: claims per offer batch.
    public var offerClaims: String { prefix + "offerclaims" }
    /// Sorted set: arrival checkpoints `seq:joinedAtMs` (at most ten a second), for the oldest waiting age.
    public var arrivals: String { prefix + "arrivals" }

    /// Sorted set: one sample of the room's cumulative counters per second (2 h), scored by unix second.
    public var seriesSeconds: String { prefix + "series:s" }
    /// Sorted set: one sample per minute (14 days) with the time-in-queue buckets.
    public var seriesMinutes: String { prefix + "series:m" }

    /// String: the lottery key while it is secret (drawn when the room gets an opening time; its SHA-256 is
    /// the room hash's `lotteryCommitment`). Apart from the room hash on purpose: nothing that reads the
    /// room (HGETALL, the tick's reply, views, events, reports) can carry it. The opening tick moves it into
    /// the hash as `lotteryKey` (revealed) and deletes it.
    public var lotterySecret: String { prefix + "lottery" }
    /// Hash: what the room's previous drops looked like (`prequeue`, `arrivals2m`: joins in the first two
    /// minutes after opening, `openedAtMs`), for the pre-scale recommendation of the next. Kept when the room
    /// is deleted (like the events stream), so a drop re-run under the same name learns from the last.
    public var history: String { prefix + "history" }

    /// Stream: the room's events (state and settings changes, per-minute aggregates), capped near 10,000.
    public var events: String { prefix + "events" }
    /// Hash: the hook lists events were made under, by SHA-1 of their JSON (`<last used ms>|<json>`), so an
    /// event goes to the hooks the room had when it happened (see ``RoomStore/StoredEvent/hookSet``).
    public var hookSets: String { prefix + "hooksets" }
    /// List: the latest hook deliveries (JSON, newest first, 50 kept).
    public var hookDeliveries: String { prefix + "hookdeliveries" }
    /// String: set when hook `index` has accepted event `id` (a retry skips it).
    public func hookDelivered(eventID: String, index: Int) -> String { prefix + "hookok:\(eventID):\(index)" }

    /// String: a client's joins in one minute window, shared by every gate (expires after two minutes).
    public func joinBudget(client: String, minute: Int64) -> String { prefix + "jl:\(minute):" + client }

    /// String: the admission of one ticket (`jti|iat|exp`), so claiming twice returns the same admission.
    public func admission(ticketID: String) -> String { prefix + "adm:" + ticketID }
    /// String: the place of a join-pass holder (`epoch|seq`), so one customer keeps one place.
    public func pass(ticketID: String) -> String { prefix + "pass:" + ticketID }
    /// String: set once when an admission token is consumed (single use).
    public func consumed(jti: String) -> String { prefix + "used:" + jti }

    /// Set of every room name. Global, so on a Cluster it lives in one slot of its own: no script touches it
    /// (a script may touch one slot only). The store adds a name before creating the room and removes it
    /// after deleting the room, so the list may name a room that is gone (skipped) but never misses one.
    /// Read once a second per gate; a per-node `SCAN` for room hashes would walk every admission key.
    public static let registry = "wr:rooms"
}
