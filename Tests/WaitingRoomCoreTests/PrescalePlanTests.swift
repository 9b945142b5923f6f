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

    @Test(
        "without a cache the board is priced at the gates' pace: every readAfter until the reads pass their budget, never slower than the poll ceiling",
        arguments: [(1_000.0, 200.0), (20_000, 200), (100_000, 200), (500_000, 400), (1_000_000, 1_000), (10_000_000, 5_000)]
    )
    func pacedBoard(shoppers: Double, rate: Double) {
        for budget in [50.0, 200, 5_000] {
            let drop = PrescalePlan.Drop(prequeue: 0, arrivals: shoppers, windowSeconds: 120, rate: rate, boardReadsPerSecond: budget)
            let plan = PrescalePlan(drop: drop).recommendation
            let waiting = Double(plan.peakWaiting)
            let ceiling = Double(RoomBoard.readInterval(Int.max / 2, claimWindowSeconds: 60)) / 1000
            #expect(plan.boardReadSecondsUncached >= 2 && plan.boardReadSecondsUncached <= (ceiling * 10).rounded() / 10)
            // The gates answer at most their budget together, unless the ceiling holds the pages faster.
            let reads = waiting / plan.boardReadSecondsUncached
            // (the interval is published to a tenth of a second: 2.5% at most)
            #expect(reads <= max(budget * Double(plan.gateInstances), waiting / ceiling) * 1.03 + 1, "\(shoppers) shoppers, budget \(budget): \(reads) reads/s on \(plan.gateInstances) gates")
            // Unpaced (every 2 s) would be the old upper bound: pacing never costs more.
            let unpaced = Double(plan.peakJoinsPerSecond) + waiting / 2
            #expect(Double(plan.originRequestsPerSecond) <= unpaced + Double(plan.originRequestsPerSecondCached) + 1)
        }
        // The 10M drop: its 9.4M waiting read at the ceiling (26.8 s), not every 2 s.
        let big = PrescalePlan(drop: .init(prequeue: 0, arrivals: 10_000_000, windowSeconds: 120, rate: 5_000)).recommendation
        #expect(big.boardReadSecondsUncached == 26.8)
        #expect(big.originRequestsPerSecond < 1_000_000, "\(big.originRequestsPerSecond)")
    }

    @Test("rate 0 never drains; the plan still encodes as JSON")
    func holding() throws {
        let plan = PrescalePlan(drop: .init(prequeue: 10, arrivals: 10, windowSeconds: 120, rate: 0))
        #expect(plan.recommendation.drainMinutes == nil)
        _ = try JSONEncoder().encode(plan.recommendation)
        #expect(plan.table.contains { $0.contains("never") })
    }
}
