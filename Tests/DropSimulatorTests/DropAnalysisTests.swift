import DropSimulator
import Testing
import WaitingRoomCore

@Suite("Drop analysis on crafted inputs")
struct DropAnalysisTests {
    @Test("no violations when everyone is admitted in order")
    func inOrder() {
        let admissions: [Int64: Double] = [1: 1, 2: 2, 3: 3]
        let polls = [
            PollObservation(seq: 2, startedAt: 1.5, waiting: true),  // 1 admitted, 2 still waits: fine
            PollObservation(seq: 3, startedAt: 2.5, waiting: true),
        ]
        #expect(DropAnalysis.fifoViolations(polls: polls, admissions: admissions, tolerance: 0.1) == 0)
    }

    @Test("a shopper told to wait after a later joiner got in is a violation")
    func violation() {
        let admissions: [Int64: Double] = [1: 1, 3: 2]  // 3 admitted at t=2
        let polls = [
            PollObservation(seq: 2, startedAt: 3.0, waiting: true),  // 2 still waits at t=3: wronged
            PollObservation(seq: 2, startedAt: 4.0, waiting: true),  // same shopper again: counted once
            PollObservation(seq: 4, startedAt: 5.0, waiting: true),  // 4 joined after 3: fine
        ]
        #expect(DropAnalysis.fifoViolations(polls: polls, admissions: admissions, tolerance: 0.1) == 1)
    }

    @Test("the tolerance absorbs cache lag; polls that say admitted or expired never count")
    func tolerance() {
        let admissions: [Int64: Double] = [5: 10]
        #expect(DropAnalysis.fifoViolations(polls: [PollObservation(seq: 4, startedAt: 10.2, waiting: true)], admissions: admissions, tolerance: 0.5) == 0)
        #expect(DropAnalysis.fifoViolations(polls: [PollObservation(seq: 4, startedAt: 10.6, waiting: true)], admissions: admissions, tolerance: 0.5) == 1)
        #expect(DropAnalysis.fifoViolations(polls: [PollObservation(seq: 4, startedAt: 20, waiting: false)], admissions: admissions, tolerance: 0.5) == 0)
    }

    @Test("several wronged shoppers, found through the earliest later admission")
    func several() {
        // 10 admitted first (t=1), then 1..3 wait afterwards: three violations; 11 waits: fine.
        let admissions: [Int64: Double] = [10: 1, 1: 5, 2: 6]
        let polls = (1...3).map { PollObservation(seq: Int64($0), startedAt: 2, waiting: true) } + [PollObservation(seq: 11, startedAt: 2, waiting: true)]
        #expect(DropAnalysis.fifoViolations(polls: polls, admissions: admissions, tolerance: 0) == 3)
    }

    @Test("entry rate over the measurement window, and its percent error")
    func entryRate() throws {
        // 10 claims a second from t=0 to t=100.
        let claims = (0..<1_000).map { Double($0) / 10 }
        let window = try #require(DropAnalysis.measurementWindow(claimTimes: claims, claimWindowSeconds: 30))
        #expect(window.from == 30)
        #expect(abs(window.to - 99.9) < 1e-9)
        let rate = try #require(DropAnalysis.entryRate(claimTimes: claims, from: window.from, to: window.to))
        #expect(abs(rate - 10) < 0.05)
        #expect(abs(DropAnalysis.percentError(measured: 9.8, target: 10) - -2) < 1e-9)
        #expect(DropAnalysis.measurementWindow(claimTimes: [1, 2], claimWindowSeconds: 30) == nil)
        // At t=70 less than a second's worth (10) was waiting: after that claims follow arrivals.
        let samples = [40.0, 60, 70, 80].map { DropSample(t: $0, arrived: 0, admitted: 0, waiting: $0 < 70 ? 500 : 4, redisMemoryBytes: nil) }
        let drained = try #require(DropAnalysis.measurementWindow(claimTimes: claims, claimWindowSeconds: 30, samples: samples, rate: 10))
        #expect(drained.from == 30 && drained.to == 70)
    }

    @Test("arrival curves", arguments: [
        (ArrivalCurve.spike(fraction: 0.8, seconds: 60, tailSeconds: 60), 1_000, 800),
        (ArrivalCurve.uniform(seconds: 120), 1_000, 500),
    ])
    func arrivals(curve: ArrivalCurve, count: Int, inFirstMinute: Int) {
        let offsets = curve.offsets(count: count)
        #expect(offsets.count == count)
        #expect(offsets == offsets.sorted())
        #expect(offsets.filter { $0 < 60 }.count == inFirstMinute)
    }

    @Test("arrival curve syntax")
    func parse() {
        #expect(ArrivalCurve("spike") == .spike(fraction: 0.8, seconds: 60, tailSeconds: 60))
        #expect(ArrivalCurve("spike:0.5:10:20") == .spike(fraction: 0.5, seconds: 10, tailSeconds: 20))
        #expect(ArrivalCurve("uniform:30") == .uniform(seconds: 30))
        #expect(ArrivalCurve("spike:2") == nil)
        #expect(ArrivalCurve("zigzag") == nil)
    }
}

@Suite("Redis memory attribution")
struct MemoryFitTests {
    @Test("a fit recovers bytes per admitted and per waiting shopper from crafted samples")
    func recovers() throws {
        // memory = 1 MB + 300 B per admitted + 0 B per waiting, waiting rising then falling.
        let samples = (0..<60).map { t -> DropSample in
            let admitted = t * 400
            let waiting = t < 30 ? t * 1_000 : (60 - t) * 1_000
            return DropSample(t: Double(t), arrived: 0, admitted: admitted, waiting: waiting, redisMemoryBytes: 1_000_000 + 300 * admitted)
        }
        let fit = try #require(DropAnalysis.memoryPerShopper(samples))
        #expect(abs(fit.perAdmitted - 300) < 0.01)
        #expect(abs(fit.perWaiting) < 0.01)
        // A design that stored a record per waiting shopper would show up here.
        let leaky = samples.map { s in DropSample(t: s.t, arrived: 0, admitted: s.admitted, waiting: s.waiting, redisMemoryBytes: s.redisMemoryBytes! + 100 * s.waiting!) }
        #expect(abs(try #require(DropAnalysis.memoryPerShopper(leaky)).perWaiting - 100) < 0.01)
        #expect(DropAnalysis.memoryPerShopper(Array(samples.prefix(3))) == nil)
    }
}

@Suite("Server-side percentiles from /metrics")
struct BucketTests {
    @Test("buckets are summed across gates and the percentile is the bucket bound")
    func percentiles() throws {
        let gate1 = """
            # TYPE waitroom_status_duration_seconds histogram
            waitroom_status_duration_seconds_bucket{le="0.001"} 90
            waitroom_status_duration_seconds_bucket{le="0.005"} 99
            waitroom_status_duration_seconds_bucket{le="+Inf"} 100
            waitroom_status_duration_seconds_count 100
            """
        let gate2 = gate1.replacingOccurrences(of: "} 90", with: "} 100").replacingOccurrences(of: "} 99", with: "} 100")
        let buckets = DropAnalysis.buckets(named: "waitroom_status_duration_seconds", in: [gate1, gate2])
        #expect(buckets.count == 3)
        #expect(DropAnalysis.percentile(50, cumulativeBuckets: buckets) == 0.001)
        #expect(DropAnalysis.percentile(99, cumulativeBuckets: buckets) == 0.005)
        #expect(DropAnalysis.percentile(99.9, cumulativeBuckets: buckets) == .infinity)
        #expect(DropAnalysis.percentile(99, cumulativeBuckets: []) == nil)
    }
}

@Suite("Entry bursts and ETA honesty")
struct HonestyTests {
    @Test("the worst window counts the densest run of entries")
    func worstWindow() {
        let steady = (0..<30).map { Double($0) * 0.1 }  // 10/s for 3 s
        #expect(DropAnalysis.worstWindowRate(claimTimes: steady, window: 3) == 10)
        let burst = steady + Array(repeating: 10.0, count: 45)  // 45 at once, well after the steady run
        #expect(DropAnalysis.worstWindowRate(claimTimes: burst, window: 3) == 15)
        #expect(DropAnalysis.worstWindowRate(claimTimes: [], window: 3) == nil)
    }

    @Test("ETA coverage: admitted within the first range shown, by when the shopper first looked")
    func coverage() {
        let shown: [(eta: DropSimulation.ShownETA, admittedAt: Double)] = [
            (DropSimulation.ShownETA(at: 1, low: 5, high: 10), 8),  // waited 7: inside
            (DropSimulation.ShownETA(at: 2, low: 5, high: 10), 20),  // waited 18: outside
            (DropSimulation.ShownETA(at: 15, low: 0, high: 3), 16),  // waited 1: inside
        ]
        #expect(DropAnalysis.etaCoverage(shown) == ETAShare(covered: 2, total: 3))
        #expect(DropAnalysis.etaCoverage(shown, from: 0, to: 10) == ETAShare(covered: 1, total: 2))
        #expect(DropAnalysis.etaCoverage(shown, from: 0, to: 10).percent == 50)
    }

    @Test("the capacity check prices the queue it was given with the poll model")
    func capacityCheck() {
        // 60 s of a steady queue: 6,000 waiting, offers at 100/s (head grows 100 a second).
        let samples = (0...60).map { t in DropSample(t: Double(t), arrived: 0, admitted: 0, waiting: 6_000, redisMemoryBytes: nil, offered: 100 * t) }
        let perSecond = PollPolicy().expectedPollsPerSecond(waiting: 6_000, admissionRate: 100, claimWindowSeconds: 60)
        let polls = (0..<Int(perSecond * 60)).map { Double($0) / perSecond }
        let check = CapacityCheck(
            gates: 4, samples: samples, claimWindowSeconds: 60, pollTimes: polls, otherRequests: 1_000,
            gateCPUSeconds: 2 * Double(polls.count) * 200e-6 + 1_000 * 235e-6, redisCPUSeconds: 3, redisIdleCoreShare: 0.01, admitted: 1_000,
            durationSeconds: 60
        )
        #expect(check.microsecondsPerPoll == 200 && check.microsecondsPerRequest == 235)  // the plan's figures by default
        #expect(abs(check.predictedPolls - perSecond * 60) < 1)
        #expect(abs(check.pollRatio - 1) < 0.01)
        #expect(abs(check.predictedPeakPollsPerSecond - perSecond) < 0.01)
        #expect(abs(check.measuredPeakPollsPerSecond - perSecond.rounded()) <= 1)
        #expect(check.gateCPURatio! > 1.9 && check.gateCPURatio! < 2)  // the polls cost twice the model's figure
        #expect(abs(check.modelledGateCPUSeconds - check.predictedGateCPUSeconds) < 0.01)  // model polls = measured polls here
        #expect(check.redisCoreShare == 0.05)
        #expect(abs(check.redisBusyMicrosecondsPerAdmission! - 2_400) < 0.01)  // (3 s − 0.6 s idle) / 1,000 admitted
        // A sample without Redis figures adds nothing to the prediction.
        let blind = CapacityCheck(
            gates: 1, samples: samples.map { DropSample(t: $0.t, arrived: 0, admitted: 0, waiting: nil, redisMemoryBytes: nil) },
            claimWindowSeconds: 60, pollTimes: [], otherRequests: 0, gateCPUSeconds: nil, redisCPUSeconds: nil, durationSeconds: 60
        )
        #expect(blind.predictedPolls == 0 && blind.gateCPURatio == nil)
    }

    @Test("requests that reached the gates: counters and histogram counts summed over gates, by route")
    func gateRequests() {
        let gate1 = """
            # TYPE waitroom_board_reads_total counter
            waitroom_board_reads_total 12
            waitroom_join_duration_seconds_bucket{le="0.005"} 3
            waitroom_join_duration_seconds_count 4
            waitroom_status_duration_seconds_count 100
            waitroom_page_loads_total 2
            """
        let gate2 = "waitroom_board_reads_total 3\nwaitroom_status_duration_seconds_count 7\nwaitroom_board_reads_total_other 99\n"
        #expect(DropAnalysis.gateRequests(in: [gate1, gate2]) == ["board": 15, "join": 4, "status": 107, "page": 2])
    }
}
