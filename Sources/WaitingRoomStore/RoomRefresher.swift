import Logging
import RedisClient
import ServiceLifecycle
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
        var partlyFailing = false  // some rooms' tick failed (a Cluster node out of reach): warned once per streak
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                // The room list changes rarely (admin calls); re-read it once a second.
                if ContinuousClock.now - lastListing >= .seconds(1) || names.isEmpty {
                    names = try await store.roomNames()
                    lastListing = .now
                }
                // Rooms an admin call just created are in the cache before the next listing: keep them.
                let refreshed = try await refresh(Array(Set(names).union(cache.roomNames)))
                if failing { logger.info("room refresh recovered") }
                failing = false
                if !refreshed.failed.isEmpty && !partlyFailing {
                    logger.warning("some rooms' refresh failed; their polls answer from cache", metadata: ["rooms": "\(refreshed.failed.sorted())"])
                }
                partlyFailing = !refreshed.failed.isEmpty
                onRefresh(refreshed.snapshots)
            } catch {
                if !failing { logger.error("room refresh failed; polls answer from cache", metadata: ["error": "\(error)"]) }
                failing = true
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// One refresh: tick and cache every named room now. Rooms whose tick failed keep their cached entry (it
    /// turns stale) and are returned in `failed`; the refresh fails only when no room could be ticked.
    @discardableResult
    public func refresh(_ names: [String]) async throws(StoreError) -> (snapshots: [String: RoomSnapshot], failed: Set<String>) {
        let started = ContinuousClock.now
        let ticked = try await store.tickEach(rooms: names)
        if ticked.snapshots.isEmpty, let failure = ticked.failed.values.first { throw failure }
        let failed = Set(ticked.failed.keys)
        cache.update(ticked.snapshots, unrefreshed: failed, startedAt: started)
        return (ticked.snapshots, failed)
    }
}
