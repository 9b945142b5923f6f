import Logging
import ServiceLifecycle
import Synchronization

/// Group commit for joins: everything that arrives while a commit is in flight goes out in the next one,
/// as one `INCRBY n` per room, and places are handed out in arrival order.
public final class JoinCommitter: Service, Sendable {
    public typealias Placement = RoomStore.JoinResult

    private struct Waiter {
        var room: String
        var continuation: UnsafeContinuation<Placement, Error>
    }

    private struct State {
        var pending: [Waiter] = []
        var accepting = true
    }

    private let store: RoomStore
    private let logger: Logger
    private let state = Mutex(State())
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    public init(store: RoomStore, logger: Logger) {
        self.store = store
        self.logger = logger
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Places one shopper in `room`; resolves when the batch it rode in has been committed.
    public func join(room: String) async throws -> Placement {
        try await withUnsafeThrowingContinuation { continuation in
            let accepted = state.withLock { state -> Bool in
                guard state.accepting else { return false }
                state.pending.append(Waiter(room: room, continuation: continuation))
                return true
            }
            if accepted {
                wake.yield()
            } else {
                continuation.resume(throwing: JoinCommitterError.shuttingDown)
            }
        }
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in wakeups {
                await drain()
            }
            await drain()  // joins accepted before shutdown still get their places
        } onGracefulShutdown: {
            self.state.withLock { $0.accepting = false }
            self.wake.finish()
        }
    }

    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Waiter] in
                defer { state.pending.removeAll(keepingCapacity: true) }
                return state.pending
            }
            if batch.isEmpty { return }
            if let failure = await commit(batch) {
                // Redis just proved unavailable: the joins that queued behind this batch fail now with the
                // same error instead of starting a second wait, so a join answers 503 within one timeout. On
                // one Redis that is every join, when no room got through; on a Cluster, the joins for the rooms
                // that failed (their node did): other rooms may live on healthy nodes.
                let failsNow: (Waiter) -> Bool = store.redis.isCluster ? { failure.rooms.contains($0.room) } : { _ in !failure.anyPlaced }
                let behind = state.withLock { state -> [Waiter] in
                    let failing = state.pending.filter(failsNow)
                    state.pending.removeAll(where: failsNow)
                    return failing
                }
                for waiter in behind { waiter.continuation.resume(throwing: failure.error) }
            }
        }
    }

    /// One INCRBY per room in the batch, every room's in one round trip, and (with ``RoomStore/replicaWait``)
    /// one `WAIT` for the whole batch. Returns the rooms that found Redis unavailable, if any.
    private func commit(_ batch: [Waiter]) async -> Failure? {
        // Rooms in order of first arrival; places within a room in arrival order.
        var rooms: [String] = []
        var byRoom: [String: [Waiter]] = [:]
        for waiter in batch {
            if byRoom[waiter.room] == nil { rooms.append(waiter.room) }
            byRoom[waiter.room, default: []].append(waiter)
        }
        do {
            let results = try await store.join(rooms.map { ($0, byRoom[$0]!.count) })
            var unavailable: Failure?
            var anyPlaced = false
            for (room, outcome) in zip(rooms, results) {
                for (offset, waiter) in byRoom[room]!.enumerated() {
                    switch outcome {
                    case .success(.placed(let first, let state, let epoch)):
                        anyPlaced = true
                        waiter.continuation.resume(returning: .placed(firstSeq: first + Int64(offset), state: state, epoch: epoch))
                    case .success(let result):
                        waiter.continuation.resume(returning: result)
                    case .failure(let error):
                        waiter.continuation.resume(throwing: error)
                        if case .unavailable = error {
                            unavailable = Failure(error: error, rooms: (unavailable?.rooms ?? []).union([room]), anyPlaced: false)
                        }
                    }
                }
            }
            unavailable?.anyPlaced = anyPlaced
            return unavailable
        } catch {
            for waiter in batch { waiter.continuation.resume(throwing: error) }
            if case .unavailable = error { return Failure(error: error, rooms: Set(rooms), anyPlaced: false) }
            return nil
        }
    }

    /// What a commit that found Redis unavailable tells the joins queued behind it.
    private struct Failure {
        var error: StoreError
        /// The rooms whose share failed.
        var rooms: Set<String>
        /// Whether another room of the batch got through (then one Redis is up).
        var anyPlaced: Bool
    }
}

public enum JoinCommitterError: Error, Sendable {
    /// The instance is shutting down and takes no new joins (the caller answers 503).
    case shuttingDown
}
