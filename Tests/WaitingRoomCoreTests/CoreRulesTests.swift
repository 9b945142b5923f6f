import Foundation
import Testing
import WaitingRoomCore

private let settings = RoomSettings(rate: 10, claimWindowSeconds: 30, checkoutUrl: "https://shop.example/checkout")

private func snapshot(state: RoomState = .open, tail: Int64 = 1_000, head: Int64 = 100) -> RoomSnapshot {
    RoomSnapshot(name: "drop", settings: settings, state: state, epoch: "e1", tail: tail, head: head, offerRate: 10)
}

@Suite("Core rules")
struct CoreRulesTests {
    @Test(arguments: ["a", "drop-2026", "x_y", String(repeating: "a", count: 64)])
    func validRoomNames(name: String) { #expect(RoomName.isValid(name)) }

    @Test(arguments: ["", "-a", "A", "a.b", "a b", "{a}", "ä", String(repeating: "a", count: 65)])
    func invalidRoomNames(name: String) { #expect(!RoomName.isValid(name)) }

    @Test("ticket payload round trip and refusals")
    func ticketPayload() {
        let ticket = QueueTicket(room: "drop", epoch: "k9", seq: 42, issuedAtMs: 1_700_000_000_000, id: "abc_-1")
        #expect(QueueTicket(payload: ticket.payload) == ticket)
        for bad in ["v2.drop.k9.42.1.x", "v1.Drop.k9.42.1.x", "v1.drop.k9.0.1.x", "v1.drop.k9.42.1", "v1.drop..42.1.x", "v1.drop.k9.4x.1.x"] {
            #expect(QueueTicket(payload: bad) == nil, "\(bad)")
        }
    }

    @Test("settings validation names the field", arguments: [
        (RoomSettings(rate: -1, checkoutUrl: "https://s/c"), "rate"),
        (RoomSettings(rate: .nan, checkoutUrl: "https://s/c"), "rate"),
        (RoomSettings(rate: 1, capacity: -2, checkoutUrl: "https://s/c"), "capacity"),
        (RoomSettings(rate: 1, claimWindowSeconds: 0, checkoutUrl: "https://s/c"), "claimWindowSeconds"),
        (RoomSettings(rate: 1, sessionTTLSeconds: 0, checkoutUrl: "https://s/c"), "sessionTTLSeconds"),
        (RoomSettings(rate: 1, checkoutUrl: "javascript:alert(1)"), "checkoutUrl"),
        (RoomSettings(rate: 1, checkoutUrl: "//evil.example/x"), "checkoutUrl"),
        (RoomSettings(rate: 1, checkoutUrl: "https://"), "checkoutUrl"),
        (RoomSettings(rate: 1, checkoutUrl: "https://s/c", rampSeconds: -1), "rampSeconds"),
        (RoomSettings(rate: 1, checkoutUrl: "https://s/c", rampSeconds: 10, rampStartRate: 5), "rampStartRate"),
    ])
    func invalidSettings(settings: RoomSettings, field: String) {
        #expect { try settings.validate() } throws: { ($0 as? SettingsError)?.field == field }
    }

    @Test("checkout URLs: http(s) with a host, or an absolute path on this site", arguments: ["https://shop.example/checkout", "http://127.0.0.1:8081/checkout?x=1", "/checkout"])
    func validCheckoutURL(url: String) throws {
        try RoomSettings(rate: 1, checkoutUrl: url).validate()
    }

    @Test("status: waiting, claim, paused, closed, scheduled")
    func statusDecisions() {
        let open = snapshot()
        guard case .waiting(let position, let eta, let poll) = ShopperStatus.decide(seq: 151, jitterSeed: 0, snapshot: open, admissionRate: nil, nowMs: 0) else {
            Issue.record("expected waiting"); return
        }
        #expect(position == 50)
        #expect(eta == ETARange(low: 4, high: 7))
        #expect((1_450...1_850).contains(poll))  // 50 ahead at 10/s, polled 3 times: about 1.7 s
        #expect(ShopperStatus.decide(seq: 100, jitterSeed: 0, snapshot: open, admissionRate: nil, nowMs: 0) == .claim(effectivePosition: 100))
        #expect(ShopperStatus.decide(seq: 1, jitterSeed: 0, snapshot: snapshot(state: .closed), admissionRate: nil, nowMs: 0) == .claim(effectivePosition: 1))
        #expect(ShopperStatus.decide(seq: 500, jitterSeed: 0, snapshot: snapshot(state: .closed), admissionRate: nil, nowMs: 0) == .closed)
        guard case .paused(399, _) = ShopperStatus.decide(seq: 500, jitterSeed: 0, snapshot: snapshot(state: .paused), admissionRate: nil, nowMs: 0) else {
            Issue.record("expected paused"); return
        }
        var scheduled = snapshot(state: .scheduled, head: 0)
        scheduled.settings.opensAt = Date(timeIntervalSince1970: 100)
        guard case .scheduled(let opensIn, _) = ShopperStatus.decide(seq: 5, jitterSeed: 0, snapshot: scheduled, admissionRate: nil, nowMs: 40_000) else {
            Issue.record("expected scheduled"); return
        }
        #expect(opensIn == 60)
    }

    @Test("poll interval grows with distance, stays within the claim window", arguments: [Int64(0), 10, 100, 1_000, 100_000])
    func pollPolicy(position: Int64) {
        let policy = PollPolicy()
        let near = policy.interval(position: 0, ratePerSecond: 10, claimWindowSeconds: 30, jitterSeed: 1_000)
        let here = policy.interval(position: position, ratePerSecond: 10, claimWindowSeconds: 30, jitterSeed: 1_000)
        #expect(here >= near)
        #expect(here <= 15_000)  // half the 30 s claim window, jitter included
        #expect(policy.interval(position: position, ratePerSecond: 10, claimWindowSeconds: 600, jitterSeed: 0) <= 30_000 * 11 / 10)
    }

    @Test("jitter stays within ±10%", arguments: [UInt64(0), 1, 999, 1_000, 2_000, 123_456_789])
    func jitter(seed: UInt64) {
        let value = PollPolicy().interval(position: 1_000_000, ratePerSecond: 1, claimWindowSeconds: 3_600, jitterSeed: seed)
        #expect((27_000...33_000).contains(value))
    }

    @Test("ETA is a range around position / rate, and nil at rate zero")
    func eta() {
        #expect(ETARange.estimate(position: 99, ratePerSecond: 10) == ETARange(low: 8, high: 13))
        #expect(ETARange.estimate(position: 10, ratePerSecond: 0) == nil)
    }

    @Test("ramp rises linearly to the target", arguments: [(0.0, 10.0), (30.0, 55.0), (60.0, 100.0), (600.0, 100.0)])
    func ramp(seconds: Double, expected: Double) {
        #expect(abs(RateRamp.rate(target: 100, startRate: nil, rampSeconds: 60, secondsSinceOpening: seconds) - expected) < 1e-9)
    }
}
