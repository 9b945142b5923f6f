import Foundation
import Testing
import WaitingRoomCore

/// A reproducible generator (SplitMix64; the Core tests stay free of the shared test support).
private struct Seeded {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next(upTo bound: UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return bound == 0 ? 0 : (z ^ (z >> 31)) % bound
    }
}

private func tuned(rate: Double, minRate: Double = 1, target: Int = 1_000, maxErrors: Double = 0.05, effective: Double? = nil) -> RoomSettings {
    var settings = RoomSettings(rate: rate, checkoutUrl: "/checkout")
    settings.autoTune = true
    settings.minRate = minRate
    settings.targetLatencyMs = target
    settings.maxErrorRatio = maxErrors
    settings.effectiveRate = effective
    return settings
}

/// Runs the controller over `intervals` with a health report from `health(i)` (nil: none), as the gates
/// would: each decision's rate and memory are what the next one reads.
private func run(
    _ settings: RoomSettings, intervals: Int, waiting: Int64 = 1_000, startMs: Int64 = 1_000_000,
    health: (Int) -> (p95: Int, errors: Double)?
) -> [RateController.Decision] {
    var settings = settings
    var memory: RateController.Memory?
    var decisions: [RateController.Decision] = []
    for i in 0..<intervals {
        let now = startMs + Int64(i) * RateController.intervalMs
        let report = health(i).map { CheckoutHealth(p95Ms: $0.p95, errorRatio: $0.errors, atMs: now - 500) }
        let decision = RateController.decide(.init(
            settings: settings, state: .open, health: report, counters: .init(consumed: Int64(i) * 10), waiting: waiting, memory: memory, nowMs: now))
        decisions.append(decision)
        settings.effectiveRate = decision.effectiveRate
        memory = decision.memory
    }
    return decisions
}

@Suite("Rate controller")
struct RateControllerTests {
    @Test("degraded checkout: multiplicative decrease at once, then at most once per cooldown, down to the floor")
    func decrease() {
        let decisions = run(tuned(rate: 100, minRate: 10), intervals: 20) { _ in (p95: 5_000, errors: 0) }
        #expect(abs(decisions[0].effectiveRate - 70) < 1e-9)
        #expect(decisions[0].reason == .degraded)
        #expect(decisions[1].effectiveRate == decisions[0].effectiveRate, "cooldown: the signal has not seen the decrease yet")
        #expect(abs(decisions[2].effectiveRate - 49) < 1e-9)
        #expect(decisions.last?.effectiveRate == 10, "never below minRate")
        #expect(decisions.allSatisfy { $0.reason == .degraded })
    }

    @Test("healthy checkout with shoppers waiting: additive increase every second interval, up to the ceiling")
    func increase() {
        let decisions = run(tuned(rate: 100, minRate: 10, effective: 50), intervals: 30) { _ in (p95: 100, errors: 0) }
        #expect(decisions[0].effectiveRate == 50)
        #expect(decisions[1].effectiveRate == 55)
        #expect(decisions[3].effectiveRate == 60)
        #expect(decisions.last?.effectiveRate == 100)
        #expect(decisions.last?.reason == .atCeiling)
        #expect(decisions[1].reason == .healthy)
    }

    @Test("nobody waiting: the rate does not bind, and is not raised")
    func noDemand() {
        let decisions = run(tuned(rate: 100, effective: 50), intervals: 10, waiting: 0) { _ in (p95: 100, errors: 0) }
        #expect(decisions.allSatisfy { $0.effectiveRate == 50 && $0.reason == .healthy })
    }

    @Test("hysteresis: a signal between the healthy band and the target holds the rate")
    func hysteresis() {
        // 900 ms against a 1,000 ms target: not degraded, not clearly healthy.
        let decisions = run(tuned(rate: 100, effective: 40), intervals: 10) { _ in (p95: 900, errors: 0.03) }
        #expect(decisions.allSatisfy { $0.effectiveRate == 40 })
    }

    @Test("no signal: holds and says so; a report older than the stale limit is no signal")
    func noSignal() {
        let decisions = run(tuned(rate: 100, effective: 40), intervals: 5) { _ in nil }
        #expect(decisions.allSatisfy { $0.effectiveRate == 40 && $0.reason == .noSignal })
        let old = CheckoutHealth(p95Ms: 10, errorRatio: 0, atMs: 1_000_000 - RateController.signalStaleMs - 1)
        let decision = RateController.decide(.init(settings: tuned(rate: 100, effective: 40), state: .open, health: old, counters: .init(), waiting: 5, memory: nil, nowMs: 1_000_000))
        #expect(decision.reason == .noSignal && decision.effectiveRate == 40)
    }

    @Test("errors above the limit degrade even with a fast p95")
    func errors() {
        let decisions = run(tuned(rate: 100, effective: 100), intervals: 1) { _ in (p95: 10, errors: 0.2) }
        #expect(decisions[0].reason == .degraded && abs(decisions[0].effectiveRate - 70) < 1e-9)
    }

    @Test("a stored rate outside the bounds (ops lowered the ceiling) is brought back inside")
    func outsideBounds() {
        let high = run(tuned(rate: 20, minRate: 5, effective: 80), intervals: 1) { _ in (p95: 900, errors: 0) }
        #expect(high[0].effectiveRate == 20)
        let low = run(tuned(rate: 20, minRate: 5, effective: 1), intervals: 1) { _ in (p95: 900, errors: 0) }
        #expect(low[0].effectiveRate == 5)
    }

    @Test("rate 0 holds the queue whatever checkout says")
    func zero() {
        let decisions = run(tuned(rate: 0, minRate: 0, effective: 3), intervals: 4) { _ in (p95: 1, errors: 0) }
        #expect(decisions.allSatisfy { $0.effectiveRate == 0 })
    }

    @Test("the memory survives its text form (it is stored in the room hash)")
    func memoryText() {
        let memory = RateController.Memory(atMs: 123, counters: .init(consumed: 1, releases: 2, lapsed: 3, claims: 4, consumeMs: 5), healthyStreak: 1, lastDecreaseMs: 99)
        #expect(RateController.Memory(text: memory.text) == memory)
        #expect(RateController.Memory(text: "1|2|x") == nil)
    }

    @Test("the gate's own figures: consumes per second, checkout duration, lapsed share")
    func observed() {
        let memory = RateController.Memory(atMs: 0, counters: .init(consumed: 10, releases: 0, lapsed: 0, claims: 10, consumeMs: 10_000))
        let decision = RateController.decide(.init(
            settings: tuned(rate: 10), state: .open, health: nil,
            counters: .init(consumed: 30, releases: 4, lapsed: 5, claims: 25, consumeMs: 50_000), waiting: 0, memory: memory, nowMs: 2_000))
        #expect(decision.observed == RateController.Observed(consumesPerSecond: 10, releasesPerSecond: 2, checkoutSeconds: 2, lapsedShare: 0.25))
    }

    @Test("property: flapping, lying or absurd signals never leave minRate...rate, and each step is bounded", arguments: 1...12)
    func bounded(seed: Int) {
        var random = Seeded(seed: UInt64(seed))
        let rate = [0.001, 0.5, 3, 50, 1_000, 1_000_000][Int(random.next(upTo: 6))]
        let floor = [0, rate / 10, rate / 2, rate][Int(random.next(upTo: 4))]
        var settings = tuned(rate: rate, minRate: floor, target: 1 + Int(random.next(upTo: 5_000)), maxErrors: Double(random.next(upTo: 100)) / 100)
        settings.effectiveRate = random.next(upTo: 2) == 0 ? nil : Double(random.next(upTo: 1_000))
        var memory: RateController.Memory?
        var now: Int64 = 1_800_000_000_000
        var previous = min(max(settings.effectiveRate ?? rate, floor), rate)
        var noSignalSince: Int64?
        for _ in 0..<400 {
            now += Int64(random.next(upTo: 3)) * RateController.intervalMs + Int64(random.next(upTo: 1_000))
            let health: CheckoutHealth?
            switch random.next(upTo: 5) {
            case 0: health = nil
            case 1: health = CheckoutHealth(p95Ms: Int(random.next(upTo: 3_600_000)), errorRatio: 1, atMs: now)  // the worst
            case 2: health = CheckoutHealth(p95Ms: 0, errorRatio: 0, atMs: now)  // the best, maybe a lie
            case 3: health = CheckoutHealth(p95Ms: Int(random.next(upTo: 10_000)), errorRatio: Double(random.next(upTo: 100)) / 100, atMs: now - Int64(random.next(upTo: 30_000)))
            default: health = CheckoutHealth(p95Ms: 1, errorRatio: 0, atMs: now + Int64(random.next(upTo: 60_000)))  // dated in the future
            }
            let decision = RateController.decide(.init(
                settings: settings, state: .open, health: health, counters: .init(), waiting: Int64(random.next(upTo: 3)), memory: memory, nowMs: now))
            #expect(decision.effectiveRate <= rate, "never above the ceiling")
            #expect(decision.effectiveRate >= floor, "never below the floor")
            #expect(abs(decision.effectiveRate - previous) <= RateController.maximumStep(from: previous, ceiling: rate) + 1e-9, "a bounded step")
            if decision.reason == .noSignal {
                #expect(decision.effectiveRate == previous, "no signal: holds")
                noSignalSince = noSignalSince ?? now
            } else {
                noSignalSince = nil
            }
            previous = decision.effectiveRate
            settings.effectiveRate = decision.effectiveRate
            memory = decision.memory
        }
    }

    @Test("a health report is read strictly", arguments: [
        (#"{"p95Ms": 120, "errorRatio": 0.01}"#, nil),
        (#"{"p95Ms": 120, "errorRatio": 0, "inFlight": 30}"#, nil),
        (#"{"p95Ms": 1.5, "errorRatio": 0.01}"#, "p95Ms"),
        (#"{"p95Ms": -1, "errorRatio": 0.01}"#, "p95Ms"),
        (#"{"p95Ms": "120", "errorRatio": 0.01}"#, "p95Ms"),
        (#"{"errorRatio": 0.01}"#, "p95Ms"),
        (#"{"p95Ms": 120, "errorRatio": 1.01}"#, "errorRatio"),
        (#"{"p95Ms": 120, "errorRatio": true}"#, "errorRatio"),
        (#"{"p95Ms": 120}"#, "errorRatio"),
        (#"{"p95Ms": 120, "errorRatio": 0, "inFlight": -2}"#, "inFlight"),
        (#"{"p95Ms": 120, "errorRatio": 0, "extra": 1}"#, "extra"),
    ] as [(String, String?)])
    func healthReport(json: String, badField: String?) throws {
        let object = try JSONDecoder().decode([String: JSONValue].self, from: Data(json.utf8))
        if let badField {
            #expect { try CheckoutHealth(json: object) } throws: { ($0 as? CheckoutHealth.Problem)?.field == badField }
        } else {
            #expect(try CheckoutHealth(json: object).p95Ms == 120)
        }
    }

    @Test("the admission model and its forecast run at the tuned rate, within minRate...rate")
    func admissionRate() {
        var settings = tuned(rate: 100, minRate: 10, effective: 40)
        #expect(settings.admissionRate == 40)
        #expect(AdmissionModel.rate(settings, openedAtMs: 1, nowMs: 1_000) == 40)
        #expect(AdmissionForecast.secondsToOffer(400, settings: settings, openedAtMs: 1, nowMs: 1_000, showUp: 1, slotsFreeingPerSecond: nil) == 10)
        settings.effectiveRate = 500
        #expect(settings.admissionRate == 100, "never above the ceiling")
        settings.effectiveRate = 1
        #expect(settings.admissionRate == 10, "never below the floor")
        settings.autoTune = false
        #expect(settings.admissionRate == 100, "auto-tuning off: the rate")
        // A rate set by hand clears the tuner's rate; other changes keep it.
        var changed = tuned(rate: 80, minRate: 10)
        #expect(changed.carryingTuning(from: tuned(rate: 100, minRate: 10, effective: 40)).effectiveRate == nil)
        changed.rate = 100
        changed.targetLatencyMs = 5
        #expect(changed.carryingTuning(from: tuned(rate: 100, minRate: 10, effective: 40)).effectiveRate == 40)
    }

    @Test("settings: minRate above rate is refused, or lowered with a note when only the rate changed")
    func minRateSetting() throws {
        var settings = tuned(rate: 10, minRate: 20)
        #expect { try settings.validate() } throws: { ($0 as? SettingsError)?.field == "minRate" }
        let (reconciled, adjusted) = settings.reconciled(given: ["rate"])
        #expect(reconciled.minRate == 10 && adjusted.map(\.field) == ["minRate"])
        settings.minRate = 5
        settings.healthUrl = "ftp://x"
        #expect { try settings.validate() } throws: { ($0 as? SettingsError)?.field == "healthUrl" }
        settings.healthUrl = "http://127.0.0.1:9000/health"
        try settings.validate()
    }
}
