import RedisClient
import Synchronization
import WaitingRoomCore

/// This instance's copy of every active room, refreshed several times a second by ``RoomRefresher``.
///
/// Polls read only this, so a poll costs no Redis command. A short history of counters gives measured
/// rates (joins/s, admissions/s) without asking Redis. Everything a poll needs is computed at refresh
/// time, so a read is one dictionary lookup under a lock.
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
        /// While capacity binds: the measured rate at which slots come free (offers follow it); nil when
        /// capacity does not bind (see ``SlotsFreeing``).
        public var slotsFreeingPerSecond: Double?
        /// When this instance took the snapshot: what is built from an entry (the room board) is built once
        /// per refresh.
        public var refreshedAt: ContinuousClock.Instant
    }

    private struct Sample {
        var at: ContinuousClock.Instant
        var tail: Int64
        var head: Int64
        var claims: Int64
    }

    /// For ``SlotsFreeing``: Redis clock, head, whether capacity bound (a longer, sparser history).
    typealias CapacitySample = (atMs: Int64, head: Int64, bound: Bool)

    /// Immutable once built: readers share it with one retain.
    private final class Room: Sendable {
        let snapshot: RoomSnapshot
        let refreshedAt: ContinuousClock.Instant
        let history: [Sample]
        let capacityHistory: [CapacitySample]
        let rates: (admission: Double?, join: Double?, claim: Double?)
        let slotsFreeing: Double?

        init(snapshot: RoomSnapshot, refreshedAt: ContinuousClock.Instant, history: [Sample], capacityHistory: [CapacitySample]) {
            self.snapshot = snapshot
            self.refreshedAt = refreshedAt
            self.history = history
            self.capacityHistory = capacityHistory
            if let oldest = history.first, let newest = history.last, newest.at > oldest.at {
                let seconds = (newest.at - oldest.at).seconds
                rates = (Double(newest.head - oldest.head) / seconds, Double(newest.tail - oldest.tail) / seconds, Double(newest.claims - oldest.claims) / seconds)
            } else {
                rates = (nil, nil, nil)
            }
            slotsFreeing = SlotsFreeing.rate(capacityHistory)
        }

        /// This room's capacity history with `snapshot` added (at most five samples a second, for the window).
        func capacityHistory(adding snapshot: RoomSnapshot) -> [CapacitySample] {
            var samples = self.snapshot.epoch == snapshot.epoch ? capacityHistory : []
            if let last = samples.last, snapshot.redisNowMs - last.atMs < 200, last.bound == snapshot.capacityBinds { return samples }
            samples.append((snapshot.redisNowMs, snapshot.head, snapshot.capacityBinds))
            samples.removeAll { snapshot.redisNowMs - $0.atMs > SlotsFreeing.windowMs }
            return samples
        }
    }

    private let rooms = Mutex<[String: Room]>([:])
    /// When a refresh last succeeded (it reached Redis); nil before the first.
    private let lastRefresh = Mutex<ContinuousClock.Instant?>(nil)
    private let staleAfter: Duration
    private let rateWindow: Duration

    public init(staleAfter: Duration = .seconds(2), rateWindow: Duration = .seconds(5)) {
        self.staleAfter = staleAfter
        self.rateWindow = rateWindow
    }

    public func entry(_ room: String, now: ContinuousClock.Instant = .now) -> Entry? {
        guard let cached = rooms.withLock({ $0[room] }) else { return nil }
        return Entry(
            snapshot: cached.snapshot, isStale: now - cached.refreshedAt > staleAfter,
            admissionRate: cached.rates.admission, joinRate: cached.rates.join, claimRate: cached.rates.claim,
            slotsFreeingPerSecond: cached.slotsFreeing, refreshedAt: cached.refreshedAt
        )
    }

    /// Whether a refresh succeeded within the stale limit: Redis answers this gate's ticks. `/readyz`
    /// answers from this, so a readiness probe costs no Redis command.
    public func isCurrent(now: ContinuousClock.Instant = .now) -> Bool {
        guard let last = lastRefresh.withLock({ $0 }) else { return false }
        return now - last <= staleAfter
    }

    public var roomNames: [String] {
        rooms.withLock { Array($0.keys).sorted() }
    }

    /// Replaces the cached rooms with a fresh set of snapshots. Rooms absent from it are forgotten, except
    /// those merged after `startedAt` (an admin call created them while this refresh was in flight).
    /// Replaces the cache with a refresh's snapshots. Rooms in `unrefreshed` (their tick failed: a Cluster node
    /// out of reach) keep their last entry, which turns stale with time; other rooms missing from `snapshots` are gone.
    public func update(
        _ snapshots: [String: RoomSnapshot], unrefreshed: Set<String> = [], startedAt: ContinuousClock.Instant? = nil, at now: ContinuousClock.Instant = .now
    ) {
        rooms.withLock { rooms in
            var next: [String: Room] = [:]
            for name in unrefreshed { next[name] = rooms[name] }
            for (name, snapshot) in snapshots {
                // A recreated room (new epoch) starts its history again.
                var history = rooms[name].flatMap { $0.snapshot.epoch == snapshot.epoch ? $0.history : nil } ?? []
                history.append(Sample(at: now, tail: snapshot.tail, head: snapshot.head, claims: snapshot.claims))
                history.removeAll { now - $0.at > rateWindow }
                let capacity = rooms[name]?.capacityHistory(adding: snapshot) ?? [(snapshot.redisNowMs, snapshot.head, snapshot.capacityBinds)]
                next[name] = Room(snapshot: snapshot, refreshedAt: now, history: history, capacityHistory: capacity)
            }
            if let startedAt {
                for (name, room) in rooms where next[name] == nil && room.refreshedAt >= startedAt { next[name] = room }
            }
            rooms = next
        }
        lastRefresh.withLock { $0 = now }
    }

    /// Puts one fresh snapshot in (after an admin change, so this instance sees it at once).
    public func merge(_ snapshot: RoomSnapshot, at now: ContinuousClock.Instant = .now) {
        rooms.withLock { rooms in
            let history = rooms[snapshot.name].flatMap { $0.snapshot.epoch == snapshot.epoch ? $0.history : nil } ?? []
            let capacity = rooms[snapshot.name]?.capacityHistory(adding: snapshot) ?? []
            rooms[snapshot.name] = Room(snapshot: snapshot, refreshedAt: now, history: history, capacityHistory: capacity)
        }
    }

    public func remove(_ room: String) {
        _ = rooms.withLock { $0.removeValue(forKey: room) }
    }
}
