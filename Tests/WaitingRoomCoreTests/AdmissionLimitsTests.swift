import Foundation
import Testing
import WaitingRoomCore

/// Settings the model must carry whatever they are (issue 20: one ticket admitted five times, a poisoned
/// rate, an entry schedule that remembered an old rate, a rate change refused for an old ramp).
@Suite("Admission model: limits that hold whatever the settings")
struct AdmissionLimitsTests {
    private static func offered(_ settings: RoomSettings, shoppers: Int64, nowMs: Int64 = 1_000) -> AdmissionState {
        var state = AdmissionState(state: .open, nowMs: 0)
        state.tail = shoppers
        return AdmissionModel.tick(state, settings: settings, nowMs: nowMs).state
    }

    @Test("a session shorter than the claim window ends the admission; the ticket is not admitted again")
    func oneAdmissionPerTicket() {
        let settings = RoomSettings(rate: 100, claimWindowSeconds: 60, sessionTTLSeconds: 2, checkoutUrl: "/checkout")
        let state = Self.offered(settings, shoppers: 5)
        let first = AdmissionModel.claim(state, settings: settings, ticketID: "t", position: 1, jti: "j1", nowMs: 1_000)
        guard case .admitted(let admission) = first.outcome else { Issue.record("\(first.outcome)"); return }
        #expect(admission.expiresAtMs == 3_000)
        // Every poll inside the claim window after the session ended: no new admission, no new jti.
        for now: Int64 in [3_000, 3_500, 10_000, 59_000] {
            let again = AdmissionModel.claim(first.state, settings: settings, ticketID: "t", position: 1, jti: "j\(now)", nowMs: now)
            #expect(again.outcome == .ended, "at \(now)")
            #expect(again.state == first.state, "at \(now)")
        }
    }

    @Test("a rate below the minimum is refused; 0 and the minimum are accepted", arguments: [
        (1e-17, false), (1e-300, false), (0.000_999, false), (-0.001, false), (0.0, true), (AdmissionModel.minimumRate, true), (1_000_000.0, true),
    ])
    func minimumRate(rate: Double, accepted: Bool) {
        var settings = RoomSettings(rate: rate, checkoutUrl: "/checkout")
        #expect(((try? settings.validate()) != nil) == accepted, "rate \(rate)")
        settings = RoomSettings(rate: 10, checkoutUrl: "/checkout", rampSeconds: 10, rampStartRate: rate)
        #expect(((try? settings.validate()) != nil) == (accepted && rate <= 10), "rampStartRate \(rate)")
    }

    @Test("the entry schedule stays within the horizon: a ramp from 0, a poisoned schedule, the slowest rate")
    func entryHorizon() {
        // A ramp from 0 over a day: the rate just after opening is ~1e-8/s; its spacing is floored.
        var ramp = RoomSettings(rate: 1, claimWindowSeconds: 60, sessionTTLSeconds: 900, checkoutUrl: "/checkout", rampSeconds: 86_400, rampStartRate: 0)
        var state = AdmissionState(state: .open, nowMs: 1_000)  // opened at 1 s
        state.tail = 10
        state.head = 10
        state.batches = [OfferBatch(head: 10, offeredAtMs: 1_000, size: 10, claimed: 0)]
        state.offersLive = 10
        var now: Int64 = 1_001
        for ticket in 1...10 {
            let claim = AdmissionModel.claim(state, settings: ramp, ticketID: "t\(ticket)", position: Int64(ticket), jti: "j\(ticket)", nowMs: now)
            state = claim.state
            guard case .admitted(let admission) = claim.outcome else { Issue.record("\(claim.outcome)"); return }
            #expect(state.entryTatMs - Double(now) <= AdmissionModel.entrySpacingMs(AdmissionModel.minimumRate) * Double(ticket))
            #expect(Double(admission.entersAtMs) <= Double(now) + AdmissionModel.entryHorizonMs)
            now += 1
        }
        // A schedule written before the limits (1e20 ms ahead) is brought back within the horizon.
        ramp.rampSeconds = nil
        state.entryTatMs = 1e20
        state.claimed = [:]
        let healed = AdmissionModel.claim(state, settings: ramp, ticketID: "x", position: 10, jti: "jx", nowMs: now)
        guard case .admitted(let admission) = healed.outcome else { Issue.record("\(healed.outcome)"); return }
        #expect(Double(admission.entersAtMs) <= Double(now) + AdmissionModel.entryHorizonMs)
        #expect(healed.state.entryTatMs <= Double(now) + AdmissionModel.entryHorizonMs)
    }

    @Test("a faster rate takes effect for the entry schedule at once; a slower one keeps what was promised")
    func rateChangeReachesTheSchedule() {
        let fast = RoomSettings(rate: 100, claimWindowSeconds: 600, sessionTTLSeconds: 900, checkoutUrl: "/checkout")
        var slow = fast
        slow.rate = 0.1
        var state = Self.offered(fast, shoppers: 21)
        #expect(state.head == 21)
        state = AdmissionModel.settingsChanged(state, from: fast, to: slow, nowMs: 1_000)
        for ticket in 1...20 {
            state = AdmissionModel.claim(state, settings: slow, ticketID: "t\(ticket)", position: Int64(ticket), jti: "j\(ticket)", nowMs: 1_000).state
        }
        #expect(state.entryTatMs == 201_000, "20 entries 10 s apart")
        let slower = AdmissionModel.settingsChanged(state, from: slow, to: RoomSettings(rate: 0.05, checkoutUrl: "/checkout"), nowMs: 1_000)
        #expect(slower.entryTatMs == state.entryTatMs)
        state = AdmissionModel.settingsChanged(state, from: slow, to: fast, nowMs: 1_000)
        #expect(state.entryTatMs == 1_200, "the 20 reserved re-spaced at 100/s: 0.2 s")
        let next = AdmissionModel.claim(state, settings: fast, ticketID: "t21", position: 21, jti: "j21", nowMs: 1_000)
        #expect(next.outcome == .admitted(Admission(jti: "j21", entersAtMs: 1_000, expiresAtMs: 901_000)), "enters at once, within the burst")
        // The shoppers reserved at the old rate are brought forward to the new schedule when they poll again,
        // not overtaken by later ones; their session keeps its length.
        let reserved = AdmissionModel.claim(next.state, settings: fast, ticketID: "t20", position: 20, jti: "j99", nowMs: 1_100)
        #expect(reserved.outcome == .admitted(Admission(jti: "j20", entersAtMs: 1_210, expiresAtMs: 901_210)))
        #expect(reserved.state.admissions["j20"] == 901_210)
        // From rate 0 (held) every reserved entry is re-spaced to now.
        var held = slow
        held.rate = 0
        #expect(AdmissionModel.settingsChanged(state, from: held, to: fast, nowMs: 1_000).entryTatMs == 1_000)
    }

    @Test("a rate below an old ramp's start rate lowers the start rate and says so; a start rate given with it is checked")
    func rateBelowRampStart() throws {
        let current = RoomSettings(rate: 1, checkoutUrl: "/checkout", rampSeconds: 30, rampStartRate: 0.2)
        let merged = try current.merging(json: ["rate": .number(0.1)])
        #expect(throws: SettingsError.self) { try merged.validate() }
        let (settings, adjusted) = merged.reconciled(given: ["rate"])
        try settings.validate()
        #expect(settings.rampStartRate == 0.1)
        #expect(adjusted == [SettingsAdjustment(field: "rampStartRate", from: 0.2, to: 0.1, reason: "a ramp starts at or below rate")])
        let both = try current.merging(json: ["rate": .number(0.1), "rampStartRate": .number(0.5)]).reconciled(given: ["rate", "rampStartRate"])
        #expect(both.adjusted.isEmpty)
        #expect(throws: SettingsError(field: "rampStartRate", reason: "must be between 0 and rate")) { try both.settings.validate() }
        #expect(try current.merging(json: ["rate": .number(5)]).reconciled(given: ["rate"]).adjusted.isEmpty)
    }
}
