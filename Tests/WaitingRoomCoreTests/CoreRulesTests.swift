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

    @Test("checkout URLs: http(s) with a host, or an absolute path on this site", arguments: ["https://shop.example/checkout", "http://127.0.0.1:8081/checkout?x=1", "/checkout"])
    func validCheckoutURL(url: String) throws {
        try RoomSettings(rate: 1, checkoutUrl: url).validate()
    }

    @Test("status: waiting, claim, paused, closed, scheduled")
    func statusDecisions() {
        let open = snapshot()
        guard case .waiting(let position, let eta, false, let poll) = ShopperStatus.decide(seq: 151, jitterSeed: 0, snapshot: open, nowMs: 0) else {
            Issue.record("expected waiting"); return
        }
        #expect(position == 50)
        #expect(eta == ETARange.around(expectedSeconds: 5.1))  // 51 offers at 10/s
        #expect((1_450...1_850).contains(poll))  // 51 ahead at 10/s, polled 3 times: about 1.7 s
        #expect(ShopperStatus.decide(seq: 100, jitterSeed: 0, snapshot: open, nowMs: 0) == .claim(effectivePosition: 100))
        #expect(ShopperStatus.decide(seq: 1, jitterSeed: 0, snapshot: snapshot(state: .closed), nowMs: 0) == .claim(effectivePosition: 1))
        #expect(ShopperStatus.decide(seq: 500, jitterSeed: 0, snapshot: snapshot(state: .closed), nowMs: 0) == .closed)
        guard case .paused(399, _) = ShopperStatus.decide(seq: 500, jitterSeed: 0, snapshot: snapshot(state: .paused), nowMs: 0) else {
            Issue.record("expected paused"); return
        }
        var scheduled = snapshot(state: .scheduled, head: 0)
        scheduled.settings.opensAt = Date(timeIntervalSince1970: 100)
        guard case .scheduled(let opensIn, _) = ShopperStatus.decide(seq: 5, jitterSeed: 0, snapshot: scheduled, nowMs: 40_000) else {
            Issue.record("expected scheduled"); return
        }
        #expect(opensIn == 60 || opensIn == 61)
    }

    @Test("the ETA and the poll interval follow the show-up compensation: fewer show up, the queue moves faster")
    func statusFollowsShowUp() {
        var lowShowUp = snapshot()
        lowShowUp.showUpRatio = 0.5
        guard case .waiting(_, let fast?, _, _) = ShopperStatus.decide(seq: 1_100, jitterSeed: 0, snapshot: lowShowUp, nowMs: 0),
            case .waiting(_, let slow?, _, _) = ShopperStatus.decide(seq: 1_100, jitterSeed: 0, snapshot: snapshot(), nowMs: 0)
        else { Issue.record("expected waiting with ETAs"); return }
        #expect(fast == ETARange.around(expectedSeconds: 50))
        #expect(slow == ETARange.around(expectedSeconds: 100))
    }

    @Test("capacity binding: the ETA follows the slots coming free; none coming free is on hold")
    func capacityBinding() {
        var full = snapshot()
        full.settings.capacity = 10
        full.active = 10
        guard case .waiting(_, let eta?, false, _) = ShopperStatus.decide(seq: 119, jitterSeed: 0, snapshot: full, slotsFreeingPerSecond: 2, nowMs: 0) else {
            Issue.record("expected an ETA"); return
        }
        #expect(eta == ETARange.around(expectedSeconds: 9.5, basis: .measured))  // 19 offers at 2/s, not 10/s
        guard case .waiting(_, nil, true, _) = ShopperStatus.decide(seq: 119, jitterSeed: 0, snapshot: full, slotsFreeingPerSecond: 0, nowMs: 0) else {
            Issue.record("expected on hold"); return
        }
    }

    @Test("poll interval grows with the wait and stays within half the claim window", arguments: [0.0, 1, 10, 100, 1_000, 100_000])
    func pollPolicy(seconds: Double) {
        let policy = PollPolicy()
        let interval = policy.interval(secondsToTurn: seconds, claimWindowSeconds: 30, jitterSeed: 1_000)
        let expected = min(max(seconds * 1000 / 3, 1_000), 30_000 * 10 / 22)
        #expect(interval == Int(expected), "seed 1000 has no jitter: \(interval) vs \(expected)")
        #expect(interval <= 15_000)  // half the 30 s claim window, jitter included
        #expect(policy.interval(secondsToTurn: seconds * 2 + 10, claimWindowSeconds: 30, jitterSeed: 1_000) >= interval, "further back polls less often")
    }

    @Test("the capacity plan's poll rate is the policy summed over a queue", arguments: [(100_000.0, 200.0, 60), (2_000, 100, 60), (50_000, 1_000, 30), (300, 100, 60), (5_000, 0, 60)])
    func expectedPollRate(waiting: Double, rate: Double, claimWindow: Int) {
        let policy = PollPolicy()
        let modelled = policy.expectedPollsPerSecond(waiting: waiting, admissionRate: rate, claimWindowSeconds: claimWindow)
        // Every shopper in line, position p, polls once per interval(p / rate); seed 1000 has no jitter.
        let summed = (1...Int(waiting)).reduce(0.0) { polls, position in
            let turn: Double? = rate > 0 ? Double(position) / rate : nil
            return polls + 1000 / Double(policy.interval(secondsToTurn: turn, claimWindowSeconds: claimWindow, jitterSeed: 1_000))
        }
        #expect(abs(modelled - summed) / summed < 0.01, "model \(modelled) vs summed \(summed)")
    }

    @Test("the README's poll formula: P ≈ 12.9·R + (N − 82·R) / 27.3 for a 60 s claim window")
    func readmePollFormula() {
        let modelled = PollPolicy().expectedPollsPerSecond(waiting: 100_000, admissionRate: 200, claimWindowSeconds: 60)
        #expect(abs(modelled - (12.9 * 200 + (100_000 - 82 * 200) / 27.3)) < 10)
        #expect(PollPolicy().expectedPollsPerSecond(waiting: 0, admissionRate: 200, claimWindowSeconds: 60) == 0)
    }

    @Test("far-off or absurd waits never overflow", arguments: [Double.infinity, .nan, 1e300, -5, Double(Int64.max)])
    func pollPolicyExtremes(seconds: Double) {
        let interval = PollPolicy().interval(secondsToTurn: seconds, claimWindowSeconds: 600, jitterSeed: 7)
        #expect((500...33_000).contains(interval))
        let eta = ETARange.around(expectedSeconds: seconds)
        #expect(eta.low >= 0 && eta.high >= eta.low)
    }

    @Test("jitter spreads intervals ±10% by seed", arguments: [(UInt64(0), 27_000), (1_000, 30_000), (2_000, 33_000), (2_001, 27_000)])
    func jitter(seed: UInt64, expected: Int) {
        #expect(PollPolicy().interval(secondsToTurn: 1e6, claimWindowSeconds: 3_600, jitterSeed: seed) == expected)
    }

    @Test("jitter seeds differ between tickets and are stable for one")
    func jitterSeeds() {
        let seeds = Set((0..<1_000).map { PollPolicy.jitterSeed(ticketID: "ticket-\($0)") % 2001 })
        #expect(seeds.count > 300)
        #expect(PollPolicy.jitterSeed(ticketID: "abc") == PollPolicy.jitterSeed(ticketID: "abc"))
    }

    @Test("ETA is a range around the expected wait")
    func eta() {
        #expect(ETARange.around(expectedSeconds: 10) == ETARange(low: 8, high: 15))
        #expect(ETARange.around(expectedSeconds: 0) == ETARange(low: 0, high: 3))
        #expect(ETARange(low: 8, high: 15).contains(8) && !ETARange(low: 8, high: 15).contains(15.5))
    }

    @Test("forecast along a ramp: the closed form matches stepping the model")
    func forecastRamp() throws {
        var settings = RoomSettings(rate: 30, claimWindowSeconds: 3_600, checkoutUrl: "/c")  // nothing lapses
        settings.rampSeconds = 15
        settings.rampStartRate = 3
        for count: Int64 in [1, 10, 100, 250, 400, 2_000] {
            let forecast = try #require(AdmissionForecast.secondsToOffer(count, settings: settings, openedAtMs: 1_000, nowMs: 3_000, showUp: 1, slotsFreeingPerSecond: nil))
            var state = AdmissionState(state: .open, nowMs: 3_000)
            state.openedAtMs = 1_000
            state.tail = 1_000_000
            var now: Int64 = 3_000
            while state.head < count { now += 10; state = AdmissionModel.tick(state, settings: settings, nowMs: now).state }
            #expect(abs(Double(now - 3_000) / 1000 - forecast) < 1.1, "\(count): stepped \(Double(now - 3_000) / 1000) s, forecast \(forecast) s")
        }
    }
}
