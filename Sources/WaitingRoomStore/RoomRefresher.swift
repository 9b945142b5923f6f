import Logging
import RedisClient
import ServiceLifecycle
import Synchronization
import WaitingRoomCore

/// Ticks every room and refreshes the cache, several times a second, in one round trip for all rooms.
///
/// Every instance runs one; the tick script makes that safe (see ``RoomScripts``).
public struct RoomRefresher: Service {
    let store: RoomStore
    let cache: RoomCache
    let interval: Duration
    let logger: Logger
    let onRefresh: @Sendable ([String: RoomSnapshot]) -> Void
    private let partlyFailing = FailureStreak()

    public init(store: RoomStore, cache: RoomCache, interval: Duration = .milliseconds(100), logger: Logger, onRefresh: @escaping @Sendable ([String: RoomSnapshot]) -> Void = { _ in }) {
        self.store = store
        self.cache = cache
        self.interval = interval
        self.logger = logger
        self.onRefresh = onRefresh
    }

    public func run() async throws {
        var names: [String] = []
        var lastListing = ContinuousClock.now - .seconds(60)
        var failing = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                // The room list changes rarely (admin calls); re-read it once a second.
                if ContinuousClock.now - lastListing >= .seconds(1) || names.isEmpty {
                    names = try await store.roomNames()
                    lastListing = .now
                }
                // Rooms an admin call just created are in the cache before the next listing: keep them.
                let snapshots = try await refresh(Array(Set(names).union(cache.roomNames)))
                if failing { logger.info("room refresh recovered") }
                failing = false
                onRefresh(snapshots)
            } catch {
                if !failing { logger.error("room refresh failed; polls answer from cache", metadata: ["error": "\(error)"]) }
                failing = true
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// One refresh: tick and cache every named room now. Rooms whose tick failed keep their cached entry (it
    /// turns stale); the refresh fails only when no room could be ticked.
    @discardableResult
    public func refresh(_ names: [String]) async throws(StoreError) -> [String: RoomSnapshot] {
        let started = ContinuousClock.now
        let ticked = try await store.tickEach(rooms: names)
        if ticked.snapshots.isEmpty, let failure = ticked.failed.values.first { throw failure }
        partlyFailing.failing.withLock { failing in
            // Once per streak, not every 100 ms.
            if !ticked.failed.isEmpty && !failing {
                logger.warning("some rooms' refresh failed; their polls answer from cache", metadata: ["rooms": "\(ticked.failed.keys.sorted())"])
            }
            failing = !ticked.failed.isEmpty
        }
        cache.update(ticked.snapshots, unrefreshed: Set(ticked.failed.keys), startedAt: started)
        return ticked.snapshots
    }
}

/// Whether the last refresh left some rooms out: a warning once per streak, not every 100 ms.
private final class FailureStreak: Sendable {
    let failing = Mutex(false)
}
