import Synchronization
import WaitingRoomCore

/// This instance's copy of every active room, refreshed several times a second by ``RoomRefresher``.
///
/// Polls read only this, so a poll costs no Redis command. A short history of counters gives measured
/// rates (joins/s, admissions/s) without asking Redis.
public final class RoomCache: Sendable {
    /// A room as a poll sees it.
    public struct Entry: Sendable {
        public var snapshot: RoomSnapshot
        /// True when the last refresh is older than the stale limit (Redis unreachable).
        public var isStale: Bool
        /// Offers per second measured over the last few seconds (nil until two samples exist).
        public var admissionRate: Double?
        public var joinRate: Double?
        public var claimRate: Double?
    }

    private struct Sample {
        var at: ContinuousClock.Instant
        var tail: Int64
        var head: Int64
        var claims: Int64
    }

    private struct Room {
        var snapshot: RoomSnapshot
        var refreshedAt: ContinuousClock.Instant
        var history: [Sample]
    }

    private let rooms = Mutex<[String: Room]>([:])
    private let staleAfter: Duration
    private let rateWindow: Duration

    public init(staleAfter: Duration = .seconds(2), rateWindow: Duration = .seconds(5)) {
        self.staleAfter = staleAfter
        self.rateWindow = rateWindow
    }

    public func entry(_ room: String, now: ContinuousClock.Instant = .now) -> Entry? {
        rooms.withLock { rooms in
            guard let cached = rooms[room] else { return nil }
            var entry = Entry(snapshot: cached.snapshot, isStale: now - cached.refreshedAt > staleAfter)
            if let oldest = cached.history.first, let newest = cached.history.last, newest.at > oldest.at {
                let seconds = Double((newest.at - oldest.at).components.attoseconds) / 1e18 + Double((newest.at - oldest.at).components.seconds)
                entry.admissionRate = Double(newest.head - oldest.head) / seconds
                entry.joinRate = Double(newest.tail - oldest.tail) / seconds
                entry.claimRate = Double(newest.claims - oldest.claims) / seconds
            }
            return entry
        }
    }

    public var roomNames: [String] {
        rooms.withLock { Array($0.keys).sorted() }
    }

    /// Replaces the cached rooms with a fresh set of snapshots (rooms absent from it are forgotten).
    public func update(_ snapshots: [String: RoomSnapshot], at now: ContinuousClock.Instant = .now) {
        rooms.withLock { rooms in
            var next: [String: Room] = [:]
            for (name, snapshot) in snapshots {
                var history = rooms[name].map(\.history) ?? []
                // A recreated room starts its history again.
                if rooms[name]?.snapshot.epoch != snapshot.epoch { history = [] }
                history.append(Sample(at: now, tail: snapshot.tail, head: snapshot.head, claims: snapshot.claims))
                history.removeAll { now - $0.at > rateWindow }
                next[name] = Room(snapshot: snapshot, refreshedAt: now, history: history)
            }
            rooms = next
        }
    }

    /// Puts one fresh snapshot in (after an admin change, so this instance sees it at once).
    public func merge(_ snapshot: RoomSnapshot, at now: ContinuousClock.Instant = .now) {
        rooms.withLock { rooms in
            var room = rooms[snapshot.name] ?? Room(snapshot: snapshot, refreshedAt: now, history: [])
            room.snapshot = snapshot
            room.refreshedAt = now
            rooms[snapshot.name] = room
        }
    }

    public func remove(_ room: String) {
        _ = rooms.withLock { $0.removeValue(forKey: room) }
    }
}
