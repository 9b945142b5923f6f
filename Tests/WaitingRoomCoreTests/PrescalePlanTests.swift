import Foundation
import Testing
import WaitingRoomCore

@Suite("Pre-scale plan: how much to scale")
struct PrescalePlanTests {
    @Test("bigger drops need more of everything; a cache in front cuts origin requests and gates", arguments: [100_000.0, 1_000_000, 10_000_000])
    func scales(shoppers: Double) {
        let small = PrescalePlan(drop: .init(prequeue: 0, arrivals: shoppers / 10, windowSeconds: 120, rate: 200)).recommendation
        let plan = PrescalePlan(drop: .init(prequeue: 0, arrivals: shoppers, windowSeconds: 120, rate: 200)).recommendation
        #expect(plan.peakJoinsPerSecond == Int64((3 * shoppers / 120).rounded()))
        #expect(plan.originRequestsPerSecond > small.originRequestsPerSecond)
        #expect(plan.gateInstances >= small.gateInstances)
        #expect(plan.originRequestsPerSecondCached < plan.originRequestsPerSecond)
        #expect(plan.gateInstancesCached <= plan.gateInstances)
        #expect(plan.gateInstancesCached >= 2)
        #expect(plan.redisMemoryMB > small.redisMemoryMB)
        #expect(plan.checkoutAdmissionsPerSecond == 200)
    }

    @Test("from a signal: the previous drop's first two minutes when there was one, else the pre-queue's growth")
    func signals() throws {
        let base = #"{"opensAt":1800000000000,"leadSeconds":600,"waiting":5000,"growthPerSecond":10,"rate":300,"rampSeconds":60,"claimWindowSeconds":60,"sessionTTLSeconds":900,"#
        var fresh = try JSONDecoder().decode(PrescalePlan.Signal.self, from: Data((base + #""previousPrequeue":-1,"previousArrivals2m":-1}"#).utf8))
        fresh.atMs = 1_800_000_000_000 - 600_000
        let growth = PrescalePlan(signal: fresh).recommendation
        #expect(growth.shoppersPrequeued == 11_000, "5,000 now plus 10/s for 600 s")
        #expect(growth.expectedArrivalsFirstTwoMinutes == 11_000)
        #expect(growth.arrivalsSource == "pre-queue growth")
        #expect(growth.checkoutRampSeconds == 60)

        var seen = try JSONDecoder().decode(PrescalePlan.Signal.self, from: Data((base + #""previousPrequeue":5500,"previousArrivals2m":40000}"#).utf8))
        seen.atMs = fresh.atMs
        let history = PrescalePlan(signal: seen).recommendation
        #expect(history.arrivalsSource == "previous drop")
        #expect(history.expectedArrivalsFirstTwoMinutes == 80_000, "40,000 scaled by a pre-queue twice the last one's")
    }

    @Test("rate 0 never drains; the plan still encodes as JSON")
    func holding() throws {
        let plan = PrescalePlan(drop: .init(prequeue: 10, arrivals: 10, windowSeconds: 120, rate: 0))
        #expect(plan.recommendation.drainMinutes == nil)
        _ = try JSONEncoder().encode(plan.recommendation)
        #expect(plan.table.contains { $0.contains("never") })
    }
}
