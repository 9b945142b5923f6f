// Reaches into internals (`@testable`): built and run on the debug build only. The release build runs the
// suites that see the modules as shipped (`make test-release`).
#if DEBUG
import NIOCore
import Testing
@testable import WaitingRoomServer

/// The idle / read deadline state machine, without a channel.
@Suite("Connection deadlines")
struct ConnectionDeadlinesTests {
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
    func at(_ ms: Int64) -> NIODeadline { t0 + .milliseconds(ms) }

    @Test("a silent connection is closed at the idle timeout")
    func silent() {
        var d = ConnectionDeadlines(idleTimeout: .seconds(30), readTimeout: .seconds(10))
        #expect(d.opened(now: at(0)) == .schedule(at(30_000)))
        #expect(d.timerFired(scheduledFor: at(30_000), now: at(30_000)) == .close)
    }

    @Test("a trickled request is closed at the read timeout from its first byte, even when it keeps sending")
    func trickle() {
        var d = ConnectionDeadlines(idleTimeout: .seconds(30), readTimeout: .seconds(10))
        #expect(d.opened(now: at(0)) == .schedule(at(30_000)))
        // The read deadline is earlier than the pending idle timer: a new timer.
        #expect(d.bytesRead(now: at(1_000)) == .schedule(at(11_000)))
        for ms in stride(from: Int64(1_100), to: 11_000, by: 100) { #expect(d.bytesRead(now: at(ms)) == .none) }
        #expect(d.timerFired(scheduledFor: at(11_000), now: at(11_000)) == .close)
    }

    @Test("keep-alive: busy connections are never closed; idle restarts at each response's end; no timer is cancelled")
    func keepAlive() {
        var d = ConnectionDeadlines(idleTimeout: .seconds(30), readTimeout: .seconds(10))
        _ = d.opened(now: at(0))
        // A request starts before the idle timer (30 s) fires: its read deadline (39 s) is later, no new timer.
        #expect(d.bytesRead(now: at(29_000)) == .none)
        d.requestRead()
        // The idle timer fires while the response is being produced: not idle, nothing to do.
        #expect(d.timerFired(scheduledFor: at(30_000), now: at(30_000)) == .none)
        // The response ends: idle from now.
        #expect(d.responseWritten(now: at(31_000)) == .schedule(at(61_000)))
        // The next request arrives in time and is read quickly: no close, and the pending timer is kept.
        #expect(d.bytesRead(now: at(50_000)) == .schedule(at(60_000)))
        d.requestRead()
        #expect(d.responseWritten(now: at(50_010)) == .none)
        // The read-deadline timer finds the connection idle since 50.01 s: one timer for 80.01 s ...
        #expect(d.timerFired(scheduledFor: at(60_000), now: at(60_000)) == .schedule(at(80_010)))
        // ... and the stale 61 s timer adds none.
        #expect(d.timerFired(scheduledFor: at(61_000), now: at(61_000)) == .none)
        #expect(d.timerFired(scheduledFor: at(80_010), now: at(80_010)) == .close)
    }

    @Test("a long-running response is not idle and not a slow read")
    func slowHandler() {
        var d = ConnectionDeadlines(idleTimeout: .seconds(1), readTimeout: .seconds(1))
        _ = d.opened(now: at(0))
        _ = d.bytesRead(now: at(100))
        d.requestRead()
        #expect(d.timerFired(scheduledFor: at(1_000), now: at(1_000)) == .none)
        #expect(d.timerFired(scheduledFor: at(1_100), now: at(5_000)) == .none)
        #expect(d.responseWritten(now: at(5_000)) == .schedule(at(6_000)))
    }

    @Test("output stuck above the high-water mark closes the connection after the write timeout, even mid-response")
    func stuckOutput() {
        var d = ConnectionDeadlines(idleTimeout: .seconds(30), readTimeout: .seconds(10), writeTimeout: .seconds(5))
        _ = d.opened(now: at(0))
        _ = d.bytesRead(now: at(100))
        d.requestRead()
        // Busy answering: neither idle nor reading. The output goes above the mark and stays there.
        #expect(d.writabilityChanged(writable: false, now: at(1_000)) == .schedule(at(6_000)))
        #expect(d.writabilityChanged(writable: false, now: at(2_000)) == .none)
        #expect(d.timerFired(scheduledFor: at(6_000), now: at(6_000)) == .close)
    }

    @Test("output that drains in time does not close; the deadline counts from the latest time it went above the mark")
    func drainedOutput() {
        var d = ConnectionDeadlines(idleTimeout: .seconds(30), readTimeout: .seconds(10), writeTimeout: .seconds(5))
        _ = d.opened(now: at(0))
        _ = d.bytesRead(now: at(100))
        d.requestRead()
        #expect(d.writabilityChanged(writable: false, now: at(1_000)) == .schedule(at(6_000)))
        #expect(d.writabilityChanged(writable: true, now: at(3_000)) == .none)
        #expect(d.writabilityChanged(writable: false, now: at(4_000)) == .none)  // a timer for 6 s is pending
        // The 6 s timer finds it above the mark since 4 s only: one more timer, for 9 s.
        #expect(d.timerFired(scheduledFor: at(6_000), now: at(6_000)) == .schedule(at(9_000)))
        #expect(d.writabilityChanged(writable: true, now: at(8_000)) == .none)
        #expect(d.timerFired(scheduledFor: at(9_000), now: at(9_000)) == .none)
        #expect(d.responseWritten(now: at(9_000)) == .schedule(at(39_000)))
    }
}
#endif
