import Synchronization

/// How simulated waiting pages follow the room board without each sending its own request.
///
/// A real page reads the board every `readAfterMs`, and behind a cache those reads never reach a gate. A
/// simulator on the gates' machine cannot send 100,000 shoppers' reads (50,000 a second), and does not need
/// to: what the gates see of them is the cache's one read a second, which a few reader loops reproduce
/// through the same cache. Every shopper waits here until the board read by those loops says its turn has
/// come (`place <= head`), the room opened (a pre-queued shopper learns its drawn place), or the room closed;
/// then it acts after a random part of one read interval, as its own page would notice at its next read.
final class BoardWatch: Sendable {
    /// The board fields a page acts on.
    struct View: Sendable, Equatable {
        var state: String
        var head: Int64
        var readAfterMs: Int
        /// When the reader loop read it (seconds since the drop began).
        var readAt: Double
    }

    private struct Waiter {
        var place: Int64
        var continuation: CheckedContinuation<View, Never>
    }

    private struct State {
        var view: View?
        /// A min-heap by place: those whose turn came are at the top.
        var heap: [Waiter] = []
        /// Pre-queued shoppers without a place yet: woken when the room is no longer scheduled.
        var unplaced: [CheckedContinuation<View, Never>] = []
        /// When a reader first saw each state change (seconds since the drop began).
        var changes: [(at: Double, state: String)] = []
        var reads = DropReport.BoardReads(ok: 0, failed: 0, lastFailedAt: nil)
    }

    private let state = Mutex(State())

    var latest: View? { state.withLock { $0.view } }

    /// Pages waiting for something to do.
    var parked: Int { state.withLock { $0.heap.count + $0.unplaced.count } }

    /// State changes the readers saw, in order, with when they saw them.
    var changes: [(at: Double, state: String)] { state.withLock { $0.changes } }

    /// Waits until the shopper holding `place` (nil: pre-queued, place not drawn yet) has something to do.
    func wait(place: Int64?) async -> View {
        await withCheckedContinuation { continuation in
            let ready: View? = state.withLock { state in
                guard let view = state.view else {
                    Self.park(&state, place: place, continuation)
                    return nil
                }
                if Self.actionable(view, place: place) { return view }
                Self.park(&state, place: place, continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// The reader loops' reads so far: answered, failed, and when the last failure was sent.
    var reads: DropReport.BoardReads { state.withLock { $0.reads } }

    /// A reader's read sent at `at` failed (no answer, or not a board).
    func failed(at: Double) {
        state.withLock { state in
            state.reads.failed += 1
            state.reads.lastFailedAt = max(state.reads.lastFailedAt ?? at, at)
        }
    }

    /// A reader loop read this board: wake everyone it concerns.
    func update(_ view: View) {
        let woken: [CheckedContinuation<View, Never>] = state.withLock { state in
            state.reads.ok += 1
            if let old = state.view, old.readAt > view.readAt { return [] }
            if state.view?.state != view.state { state.changes.append((view.readAt, view.state)) }
            state.view = view
            var woken: [CheckedContinuation<View, Never>] = []
            if view.state == "closed" {
                woken = state.heap.map(\.continuation) + state.unplaced
                state.heap = []
                state.unplaced = []
                return woken
            }
            if view.state != "scheduled" {
                woken = state.unplaced
                state.unplaced = []
            }
            guard view.state == "open" else { return woken }
            while let top = state.heap.first, top.place <= view.head {
                woken.append(top.continuation)
                Self.popTop(&state.heap)
            }
            return woken
        }
        for continuation in woken { continuation.resume(returning: view) }
    }

    /// Releases everyone still waiting (the drop's time is up).
    func finish() {
        let all: [CheckedContinuation<View, Never>] = state.withLock { state in
            defer {
                state.heap = []
                state.unplaced = []
            }
            return state.heap.map(\.continuation) + state.unplaced
        }
        let view = latest ?? View(state: "closed", head: 0, readAfterMs: 1_000, readAt: 0)
        for continuation in all { continuation.resume(returning: view) }
    }

    private static func actionable(_ view: View, place: Int64?) -> Bool {
        if view.state == "closed" { return true }
        guard let place else { return view.state != "scheduled" }
        return view.state == "open" && place <= view.head
    }

    private static func park(_ state: inout State, place: Int64?, _ continuation: CheckedContinuation<View, Never>) {
        guard let place else {
            state.unplaced.append(continuation)
            return
        }
        state.heap.append(Waiter(place: place, continuation: continuation))
        var child = state.heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard state.heap[child].place < state.heap[parent].place else { break }
            state.heap.swapAt(child, parent)
            child = parent
        }
    }

    private static func popTop(_ heap: inout [Waiter]) {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        var parent = 0
        while true {
            let left = parent * 2 + 1, right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].place < heap[smallest].place { smallest = left }
            if right < heap.count, heap[right].place < heap[smallest].place { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
