import ArgumentParser
import Foundation
import WaitingRoomCore

/// `waitroom plan --shoppers N --window S [--rate R] [--cached]`: the pre-scale recommendation for a drop on
/// paper, the same figures the `room.prescale` hook carries (``PrescalePlan``).
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "How much to scale for a drop: gates, origin requests, Redis and checkout's admission rate.",
        discussion: "The capacity model of the README's \"Capacity plan\", the same one the pre-scale hooks carry."
    )

    @Option(help: "Shoppers expected.")
    var shoppers: Int
    @Option(help: "Seconds over which they arrive.")
    var window: Double = 120
    @Option(help: "Of them, how many wait in the pre-queue before opening.")
    var prequeue: Int = 0
    @Option(help: "Admission rate (shoppers a second into checkout).")
    var rate: Double = 200
    @Option(help: "Seconds over which the rate ramps up after opening.")
    var rampSeconds: Double = 0
    @Option(help: "Shared cache nodes in front of the gates (CDN shield POPs, nginx microcaches).")
    var cacheNodes: Double = 10
    @Option(help: "How often a waiting page reads the board, in seconds.")
    var readAfter: Double = 2
    @Option(help: "Without a cache: board reads a gate answers per room before it slows the pages (WAITROOM_BOARD_READS_PER_SECOND).")
    var boardReadsPerSecond: Double = 200
    @Flag(help: "Show the figures with a shared cache in front of the gates (both are always computed).")
    var cached = false
    @Flag(help: "Print the recommendation as the hook's JSON.")
    var json = false

    func validate() throws {
        guard shoppers > 0, prequeue >= 0, prequeue <= shoppers else { throw ValidationError("--shoppers must be positive, --prequeue 0...shoppers") }
        guard window > 0, rate >= 0, cacheNodes >= 1, readAfter > 0 else { throw ValidationError("--window, --read-after positive; --rate >= 0; --cache-nodes >= 1") }
        guard (1...1_000_000).contains(boardReadsPerSecond) else { throw ValidationError("--board-reads-per-second must be 1...1000000") }
    }

    func run() throws {
        let plan = PrescalePlan(drop: .init(
            prequeue: Double(prequeue), arrivals: Double(shoppers - prequeue), windowSeconds: window, rate: rate, rampSeconds: rampSeconds,
            readAfterSeconds: readAfter, cacheNodes: cacheNodes, boardReadsPerSecond: boardReadsPerSecond
        ))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            return print(String(decoding: try encoder.encode(plan.recommendation), as: UTF8.self))
        }
        print("drop: \(shoppers.formatted()) shoppers over \(Int(window)) s, rate \(rate.formatted())/s\(cached ? ", behind a shared cache" : "")")
        // Both rows are computed; the flag says which one the deployment is.
        let skip = cached ? ["origin requests/s, no cache", "gate cores, no cache"] : ["origin requests/s, cached", "gate cores, cached"]
        for line in plan.table where !skip.contains(where: { line.hasPrefix($0) }) { print("  " + line) }
    }
}
