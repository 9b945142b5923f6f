import Testing
import WaitingRoomCore

@Suite("Join rate limiter")
struct JoinRateLimiterTests {
    @Test("a burst is allowed, then one a second at 60/min, with an honest Retry-After")
    func burstThenRate() {
        var limiter = JoinRateLimiter(perMinute: 60, burst: 5)
        for _ in 0..<5 { #expect(limiter.take("a", nowMs: 0) == .allowed) }
        #expect(limiter.take("a", nowMs: 0) == .limited(retryAfterSeconds: 1))
        #expect(limiter.take("a", nowMs: 999) == .limited(retryAfterSeconds: 1))
        #expect(limiter.take("a", nowMs: 1_000) == .allowed)
        #expect(limiter.take("a", nowMs: 1_000) == .limited(retryAfterSeconds: 1))
        // Other clients are unaffected.
        #expect(limiter.take("b", nowMs: 1_000) == .allowed)
    }

    @Test("Retry-After is the time to the next token, rounded up", arguments: [(6, 10), (1, 60), (120, 1)])
    func retryAfter(perMinute: Int, expected: Int) {
        var limiter = JoinRateLimiter(perMinute: perMinute, burst: 1)
        #expect(limiter.take("a", nowMs: 0) == .allowed)
        #expect(limiter.take("a", nowMs: 0) == .limited(retryAfterSeconds: expected))
    }

    @Test("refused attempts do not drain the bucket further")
    func refusalsAreFree() {
        var limiter = JoinRateLimiter(perMinute: 60, burst: 1)
        #expect(limiter.take("a", nowMs: 0) == .allowed)
        for ms in stride(from: Int64(0), to: 1_000, by: 10) { _ = limiter.take("a", nowMs: ms) }
        #expect(limiter.take("a", nowMs: 1_000) == .allowed)
    }

    @Test("the bucket refills to the burst, not beyond")
    func refillCapped() {
        var limiter = JoinRateLimiter(perMinute: 60, burst: 3)
        #expect(limiter.take("a", nowMs: 0) == .allowed)
        let later: Int64 = 3_600_000
        for _ in 0..<3 { #expect(limiter.take("a", nowMs: later) == .allowed) }
        #expect(limiter.take("a", nowMs: later) != .allowed)
    }

    @Test("memory is bounded: idle clients are swept, and a flood of new clients never exceeds the cap")
    func boundedMemory() {
        var limiter = JoinRateLimiter(perMinute: 60, burst: 2, maxClients: 1_000)
        for index in 0..<10_000 { _ = limiter.take("flood-\(index)", nowMs: Int64(index)) }
        #expect(limiter.trackedClients <= 1_000)
        // Buckets that have refilled carry nothing: a sweep after the refill time empties the table.
        limiter.sweep(nowMs: 10_000 + 2_000)
        #expect(limiter.trackedClients == 0)
    }

    @Test("an active client survives the sweep: its limit still holds")
    func activeClientKept() {
        var limiter = JoinRateLimiter(perMinute: 60, burst: 1, maxClients: 100)
        #expect(limiter.take("bot", nowMs: 0) == .allowed)
        limiter.sweep(nowMs: 500)
        #expect(limiter.take("bot", nowMs: 500) == .limited(retryAfterSeconds: 1))
    }

    @Test("the default lets a carrier NAT's first minute through: 60 joins from one address")
    func defaultForCarrierNAT() {
        var limiter = JoinRateLimiter(perMinute: JoinRateLimiter.defaultPerMinute)
        let allowed = (0..<60).filter { _ in limiter.take("100.64.0.1", nowMs: 0) == .allowed }.count
        #expect(allowed == 60)
        // A bot hammering the same address gets about one a second after that.
        var later = 0
        for ms in stride(from: Int64(10), through: 10_000, by: 10) where limiter.take("100.64.0.1", nowMs: ms) == .allowed { later += 1 }
        #expect(later == 10)
    }
}
