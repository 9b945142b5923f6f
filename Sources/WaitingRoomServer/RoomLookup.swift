import Synchronization
import WaitingRoomCore
import WaitingRoomStore

/// A room by name for the shopper routes: from the cache, or — for a room created through another gate
/// since this one last listed rooms — from Redis, before anyone is told 404.
///
/// Unknown names are cheap to send, so misses are bounded twice: a name found missing is remembered for
/// `negativeFor` (a flood of one name costs one Redis call a second), and at most `lookupsPerSecond`
/// Redis look-ups run per instance (a flood of random names costs at most that).
final class RoomLookup: Sendable {
    private struct Misses {
        var until: [String: ContinuousClock.Instant] = [:]
        var tokens: Double
        var refilledAt: ContinuousClock.Instant
    }

    private let cache: RoomCache
    private let store: RoomStore
    private let negativeFor: Duration
    private let lookupsPerSecond: Double
    private let maxRemembered: Int
    private let misses: Mutex<Misses>

    init(cache: RoomCache, store: RoomStore, negativeFor: Duration = .seconds(1), lookupsPerSecond: Double = 50, maxRemembered: Int = 10_000) {
        self.cache = cache
        self.store = store
        self.negativeFor = negativeFor
        self.lookupsPerSecond = lookupsPerSecond
        self.maxRemembered = maxRemembered
        misses = Mutex(Misses(tokens: lookupsPerSecond, refilledAt: .now))
    }

    /// The room, or nil when it does not exist (or cannot be looked up now).
    func entry(_ name: String) async -> RoomCache.Entry? {
        if let entry = cache.entry(name) { return entry }
        guard RoomName.isValid(name), mayLookUp(name, now: .now) else { return nil }
        if let snapshot = try? await store.tick(rooms: [name])[name] {
            cache.merge(snapshot)
            return cache.entry(name)
        }
        remember(name, now: .now)
        return nil
    }

    private func mayLookUp(_ name: String, now: ContinuousClock.Instant) -> Bool {
        misses.withLock { misses in
            if let until = misses.until[name], until > now { return false }
            let elapsed = (now - misses.refilledAt).components
            misses.tokens = min(lookupsPerSecond, misses.tokens + (Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18) * lookupsPerSecond)
            misses.refilledAt = now
            guard misses.tokens >= 1 else { return false }
            misses.tokens -= 1
            return true
        }
    }

    private func remember(_ name: String, now: ContinuousClock.Instant) {
        misses.withLock { misses in
            if misses.until.count >= maxRemembered { misses.until = misses.until.filter { $0.value > now } }
            if misses.until.count >= maxRemembered { misses.until.removeAll() }
            misses.until[name] = now + negativeFor
        }
    }
}
