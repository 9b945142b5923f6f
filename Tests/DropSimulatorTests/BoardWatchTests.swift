// Reaches into internals (`@testable`): built and run on the debug build only.
#if DEBUG
import Synchronization
import Testing
@testable import DropSimulator

/// The simulator's board readers wake each simulated page exactly when its own page would act.
@Suite("Board watch: simulated pages follow the board")
struct BoardWatchTests {
    @Test("a page wakes when head reaches its place, a pre-queued one when the room opens, everyone when it closes")
    func wakes() async throws {
        let watch = BoardWatch()
        let woken = Woken()
        watch.update(.init(state: "scheduled", head: 0, readAfterMs: 1_500, readAt: 0))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (name, place) in [("p3", Int64(3)), ("p1", 1), ("p7", 7), ("unplaced", nil)] as [(String, Int64?)] {
                group.addTask {
                    let view = await watch.wait(place: place)
                    woken.lines.withLock { $0.append("\(name)@\(view.state):\(view.head)") }
                }
            }
            try await waitFor { watch.parked == 4 }
            watch.update(.init(state: "open", head: 0, readAfterMs: 1_500, readAt: 1))
            try await waitFor { woken.lines.withLock { $0 } == ["unplaced@open:0"] }
            watch.update(.init(state: "open", head: 3, readAfterMs: 1_500, readAt: 2))
            try await waitFor { woken.lines.withLock { $0.count } == 3 }
            #expect(Set(woken.lines.withLock { $0 }) == ["unplaced@open:0", "p1@open:3", "p3@open:3"])
            // Paused: nobody moves, even with head past them; a reading older than the last is ignored.
            watch.update(.init(state: "paused", head: 9, readAfterMs: 1_500, readAt: 3))
            watch.update(.init(state: "open", head: 9, readAfterMs: 1_500, readAt: 2.5))
            #expect(watch.parked == 1)
            watch.update(.init(state: "closed", head: 3, readAfterMs: 1_500, readAt: 4))
            try await group.waitForAll()
        }
        #expect(woken.lines.withLock { $0.last } == "p7@closed:3")
        #expect(watch.changes.map(\.state) == ["scheduled", "open", "paused", "closed"])
        // After the room opened, a page whose turn has come does not wait at all.
        #expect(await watch.wait(place: 1).state == "closed")
        // Every reading counted (the stale one too: it was answered); failures with the last one's time.
        #expect(watch.reads.ok == 6 && watch.reads.failed == 0 && watch.reads.lastFailedAt == nil)
        watch.failed(at: 7)
        watch.failed(at: 5)
        #expect(watch.reads.failed == 2 && watch.reads.lastFailedAt == 7)
    }

    final class Woken: Sendable {
        let lines = Mutex<[String]>([])
    }

    private func waitFor(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
#endif
