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

    /// One refresh: tick and cache every named room now.
    @discardableResult
    public func refresh(_ names: [String]) async throws(StoreError) -> [String: RoomSnapshot] {
        let started = ContinuousClock.now
        let snapshots = try await store.tick(rooms: names)
        cache.update(snapshots, startedAt: started)
        return snapshots
    }
}
