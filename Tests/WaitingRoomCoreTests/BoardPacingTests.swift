import Testing
import WaitingRoomCore

@Suite("Board pacing: the read interval follows the reads that reach this gate")
struct BoardPacingTests {
    static let origin = ContinuousClock.now

    /// `readers` pages, each reading every interval the board last published, for `seconds`; returns the
    /// interval published after each second and the reads this gate answered in the last second.
    func run(readers: Int, seconds: Int, budget: Double = 200, configured: Int = 1_500, ceiling: Int = 26_818, pacing start: BoardPacing? = nil, after: Int = 0) -> (intervals: [Int], lastSecondReads: Int, pacing: BoardPacing) {
        var pacing = start ?? BoardPacing(configuredMs: configured, readsPerSecond: budget)
        let origin = Self.origin + .seconds(after)  // a continued run goes on from where the first one stopped
        var intervals: [Int] = []
        var lastSecondReads = 0
        for second in 0..<seconds {
            // Pages read at the interval they were told (each spread evenly over it): this second's reads.
            let reads = max(1, Int((Double(readers) * 1000 / Double(pacing.intervalMs)).rounded()))
            for i in 0..<reads {
                pacing.read(at: origin + .milliseconds(second * 1000 + i * 1000 / reads), ceilingMs: ceiling)
            }
            intervals.append(pacing.intervalMs)
            lastSecondReads = reads
        }
        return (intervals, lastSecondReads, pacing)
    }

    @Test("behind a cache (a read or two a second) the configured interval stands")
    func cached() {
        let (intervals, _, _) = run(readers: 3, seconds: 30)  // 3 cache nodes, each refreshing once a second
        #expect(intervals.allSatisfy { $0 == 1_500 }, "\(intervals)")
    }

    @Test("without a cache: a big crowd stretches the interval to the ceiling; a middling one until its reads fit the budget")
    func uncached() {
        let (big, _, _) = run(readers: 30_000, seconds: 30)
        #expect(big.suffix(20).allSatisfy { $0 == 26_818 }, "\(big)")
        let (middling, reads, _) = run(readers: 1_000, seconds: 30)
        #expect(abs(middling.last! - 5_000) <= 50, "1,000 pages within 200 reads a second: every 5 s (\(middling.suffix(5)))")
        #expect((195...205).contains(reads), "\(reads) reads a second")
        let tail = middling.suffix(20)
        #expect(tail.max()! - tail.min()! <= 150, "settled: \(Array(tail))")
    }

    @Test("a crowd that leaves: the interval comes back to the configured one, 30% a second at most")
    func shrinks() {
        let (_, _, crowded) = run(readers: 2_000, seconds: 30)
        #expect(crowded.intervalMs >= 9_000)
        let (intervals, _, _) = run(readers: 10, seconds: 30, pacing: crowded, after: 30)
        var previous = crowded.intervalMs
        for interval in intervals {
            #expect(Double(interval) >= Double(previous) * 0.7 - 1, "\(intervals)")
            previous = interval
        }
        #expect(intervals.last == 1_500, "\(intervals)")
    }

    @Test("any budget, ceiling and crowd: within configured…ceiling, and settled reads within the budget unless at the ceiling")
    func property() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let budget = Double(Int.random(in: 1...1_000, using: &generator))
            let configured = Int.random(in: 500...60_000, using: &generator)
            let ceiling = Int.random(in: 500...60_000, using: &generator)
            let readers = Int.random(in: 1...200_000, using: &generator)
            let (intervals, reads, _) = run(readers: readers, seconds: 40, budget: budget, configured: configured, ceiling: ceiling)
            let top = max(configured, ceiling)
            #expect(intervals.allSatisfy { $0 >= configured && $0 <= top })
            let settled = intervals.last!
            #expect(settled == top || settled == configured || Double(reads) <= budget * 1.02 + 1,
                "budget \(budget), configured \(configured), ceiling \(ceiling), readers \(readers): \(reads) reads, \(intervals.suffix(3))")
        }
    }
}
