import Synchronization

/// A bound on the requests one simulator sends to one host at once, with a FIFO of waiters that each keep
/// their own deadline.
///
/// Why: an HTTP client pool with an unbounded request queue turns one overload into a collapse. Requests
/// queue behind each other inside the pool, time out there (and each timed-out entry is removed from the
/// middle of the queue), and the simulator spends its CPU on its own queue instead of on shoppers — it
/// measured its own backlog, not the gate. Here at most `limit` requests are handed to the client (no more
/// than it has connections), a waiter whose deadline passes gives up at once without ever being sent, and
/// when the gate recovers the queue drains at the gate's pace.
public final class RequestSlots: Sendable {
    private struct Waiter {
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var free: Int
        var waiters: [UInt64: Waiter] = [:]
        /// Waiter ids in arrival order; ids no longer in `waiters` (given up) are skipped when met.
        var order: [UInt64] = []
        var head = 0
        var nextID: UInt64 = 0
    }

    private let state: Mutex<State>
    public let limit: Int

    public init(limit: Int) {
        precondition(limit > 0, "a request bound must be positive")
        self.limit = limit
        state = Mutex(State(free: limit))
    }

    /// Requests waiting for a slot now.
    public var waiting: Int { state.withLock { $0.waiters.count } }

    /// Runs `body` once a slot is free; nil when `deadline` passed first (the request was never sent).
    public func run<T: Sendable>(
        before deadline: ContinuousClock.Instant, _ body: () async -> T
    ) async -> T? {
        guard await acquire(before: deadline) else { return nil }
        defer { release() }
        return await body()
    }

    /// Waits for a slot until `deadline`; false when it passed first.
    func acquire(before deadline: ContinuousClock.Instant) async -> Bool {
        let id: UInt64? = state.withLock { state in
            if state.free > 0 && state.waiters.isEmpty {
                state.free -= 1
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return true }
        let timer = Task {
            try? await Task.sleep(until: deadline, clock: .continuous)
            self.giveUp(id)
        }
        let granted = await withCheckedContinuation { continuation in
            let late = state.withLock { state -> Bool in
                if ContinuousClock.now >= deadline { return true }
                state.waiters[id] = Waiter(deadline: deadline, continuation: continuation)
                state.order.append(id)
                // A slot may have come free between the first look and now.
                Self.handOut(&state)
                return false
            }
            if late { continuation.resume(returning: false) }
        }
        timer.cancel()
        return granted
    }

    /// Gives the slot to the oldest waiter still waiting, or frees it.
    func release() {
        state.withLock { state in
            state.free += 1
            Self.handOut(&state)
        }
    }

    private func giveUp(_ id: UInt64) {
        let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
        waiter?.continuation.resume(returning: false)
    }

    /// Free slots go to waiters in arrival order (resumed under the lock: resuming only schedules them).
    private static func handOut(_ state: inout State) {
        while state.free > 0 && state.head < state.order.count {
            let id = state.order[state.head]
            state.head += 1
            guard let waiter = state.waiters.removeValue(forKey: id) else { continue }
            state.free -= 1
            waiter.continuation.resume(returning: true)
        }
        // Compact the consumed prefix now and then, so the order list stays as long as the queue.
        if state.head > 1024 && state.head * 2 > state.order.count {
            state.order.removeFirst(state.head)
            state.head = 0
        }
    }
}
