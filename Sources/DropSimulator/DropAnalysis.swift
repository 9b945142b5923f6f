/// What one simulated shopper saw on one poll.
public struct PollObservation: Sendable, Equatable, Codable {
    public var seq: Int64
    /// Seconds since the drop started.
    public var startedAt: Double
    public var waiting: Bool

    public init(seq: Int64, startedAt: Double, waiting: Bool) {
        self.seq = seq
        self.startedAt = startedAt
        self.waiting = waiting
    }
}

/// How many of the shoppers looked at were admitted within the ETA range first shown to them.
public struct ETAShare: Codable, Sendable, Equatable {
    public var covered: Int
    public var total: Int
    public var percent: Double? { total > 0 ? Double(covered) / Double(total) * 100 : nil }

    public init(covered: Int, total: Int) {
        self.covered = covered
        self.total = total
    }
}

/// The arithmetic of a drop report, kept pure so it can be checked on inputs whose answer is known.
public enum DropAnalysis {
    /// FIFO violations counted from tickets: shoppers who were told to wait *after* someone who joined later
    /// (a higher queue number) had already been admitted. `tolerance` absorbs the cache refresh lag between
    /// instances. Returns the number of distinct shoppers wronged.
    ///
    /// - Parameter admissions: queue number → when that shopper was admitted (seconds since start).
    public static func fifoViolations(polls: [PollObservation], admissions: [Int64: Double], tolerance: Double) -> Int {
        guard !admissions.isEmpty else { return 0 }
        // earliestLater[i] = earliest admission time among shoppers with a higher queue number than sorted[i].
        let sorted = admissions.keys.sorted()
        var earliestLater = [Double](repeating: .infinity, count: sorted.count)
        var running = Double.infinity
        for index in stride(from: sorted.count - 1, through: 0, by: -1) {
            earliestLater[index] = running
            running = min(running, admissions[sorted[index]]!)
        }
        func earliestAdmissionAfter(_ seq: Int64) -> Double {
            // The first admitted queue number greater than seq.
            var low = 0
            var high = sorted.count
            while low < high {
                let mid = (low + high) / 2
                if sorted[mid] <= seq { low = mid + 1 } else { high = mid }
            }
            guard low < sorted.count else { return .infinity }
            return min(admissions[sorted[low]]!, earliestLater[low])
        }
        var wronged = Set<Int64>()
        for poll in polls where poll.waiting && poll.startedAt > earliestAdmissionAfter(poll.seq) + tolerance {
            wronged.insert(poll.seq)
        }
        return wronged.count
    }

    /// Entries into checkout per second between `from` and `to` (seconds since start).
    public static func entryRate(claimTimes: [Double], from: Double, to: Double) -> Double? {
        guard to > from else { return nil }
        let count = claimTimes.filter { $0 >= from && $0 < to }.count
        return Double(count) / (to - from)
    }

    /// The window over which the entry rate is judged: from one claim window after the first claim (when the
    /// no-show compensation has data) to the last claim, while the queue still had shoppers to admit.
    /// When samples are given, the window also ends where the queue first held less than a second's worth of
    /// shoppers (`rate`): after that, claims are limited by arrivals, not by the rate.
    public static func measurementWindow(claimTimes: [Double], claimWindowSeconds: Double, samples: [DropSample] = [], rate: Double = 0) -> (from: Double, to: Double)? {
        guard let first = claimTimes.min(), let last = claimTimes.max() else { return nil }
        let from = first + claimWindowSeconds
        var to = last
        if let drained = samples.first(where: { $0.t > from && ($0.waiting ?? .max) <= Int(rate) && $0.t < last - 1 }) { to = drained.t }
        return to - from >= 5 ? (from, to) : nil
    }

    /// The most entries in any `window`-second window, as a rate per second (the worst burst checkout saw).
    public static func worstWindowRate(claimTimes: [Double], window: Double) -> Double? {
        let sorted = claimTimes.sorted()
        guard !sorted.isEmpty, window > 0 else { return nil }
        var worst = 0
        var start = 0
        for end in sorted.indices {
            while sorted[end] - sorted[start] >= window { start += 1 }
            worst = max(worst, end - start + 1)
        }
        return Double(worst) / window
    }

    /// ETA honesty: of the shoppers first shown a range between `from` and `to` (seconds since start) who
    /// were admitted, how many were admitted within the range shown.
    public static func etaCoverage(_ shown: [(eta: DropSimulation.ShownETA, admittedAt: Double)], from: Double = -.infinity, to: Double = .infinity) -> ETAShare {
        let looked = shown.filter { $0.eta.at >= from && $0.eta.at < to }
        let covered = looked.filter { item in
            let wait = item.admittedAt - item.eta.at
            return Double(item.eta.low) <= wait && wait <= Double(item.eta.high)
        }
        return ETAShare(covered: covered.count, total: looked.count)
    }

    /// Signed percent error of `measured` against `target`.
    public static func percentError(measured: Double, target: Double) -> Double {
        target == 0 ? 0 : (measured - target) / target * 100
    }

    /// Least-squares fit of `memory ≈ base + perAdmitted·admitted + perWaiting·waiting` over the samples: how
    /// many bytes Redis spends per shopper waiting (the design says none) and per shopper admitted (their
    /// admission record, kept until the session ends). Nil when the samples cannot separate the two.
    public static func memoryPerShopper(_ samples: [DropSample]) -> (perWaiting: Double, perAdmitted: Double)? {
        let points = samples.compactMap { s in s.redisMemoryBytes.flatMap { m in s.waiting.map { (Double(s.admitted), Double($0), Double(m)) } } }
        guard points.count >= 5 else { return nil }
        let n = Double(points.count)
        let (ma, mw, mm) = points.reduce((0.0, 0.0, 0.0)) { ($0.0 + $1.0 / n, $0.1 + $1.1 / n, $0.2 + $1.2 / n) }
        var saa = 0.0, sww = 0.0, saw = 0.0, sam = 0.0, swm = 0.0
        for (a, w, m) in points {
            saa += (a - ma) * (a - ma); sww += (w - mw) * (w - mw); saw += (a - ma) * (w - mw)
            sam += (a - ma) * (m - mm); swm += (w - mw) * (m - mm)
        }
        let determinant = saa * sww - saw * saw
        guard abs(determinant) > 1e-9 * max(saa * sww, 1) else { return nil }
        return (perWaiting: (saa * swm - saw * sam) / determinant, perAdmitted: (sww * sam - saw * swm) / determinant)
    }

    /// The upper bound of the histogram bucket holding percentile `p` (0...100), from Prometheus-style
    /// cumulative buckets (`le` in seconds). Returns seconds; nil when the histogram is empty.
    public static func percentile(_ p: Double, cumulativeBuckets: [(le: Double, count: Double)]) -> Double? {
        let sorted = cumulativeBuckets.sorted { $0.le < $1.le }
        guard let total = sorted.last?.count, total > 0 else { return nil }
        return sorted.first { $0.count >= total * p / 100 }?.le
    }

    /// Sums the cumulative buckets of histogram `name` across Prometheus text expositions (several gates).
    public static func buckets(named name: String, in expositions: [String]) -> [(le: Double, count: Double)] {
        var sums: [Double: Double] = [:]
        for text in expositions {
            for line in text.split(separator: "\n") where line.hasPrefix(name + "_bucket{") {
                guard let leStart = line.range(of: "le=\""), let leEnd = line[leStart.upperBound...].firstIndex(of: "\""),
                    let count = line.split(separator: " ").last.flatMap({ Double($0) })
                else { continue }
                let text = line[leStart.upperBound..<leEnd]
                let le = text == "+Inf" ? Double.infinity : Double(text) ?? .nan
                if !le.isNaN { sums[le, default: 0] += count }
            }
        }
        return sums.map { (le: $0.key, count: $0.value) }
    }

    /// Sums an unlabelled counter (or a histogram's `_count`) across Prometheus text expositions.
    public static func total(named name: String, in expositions: [String]) -> Double {
        var sum = 0.0
        for text in expositions {
            for line in text.split(separator: "\n") where line.hasPrefix(name + " ") || line.hasPrefix(name + "{") {
                if let value = line.split(separator: " ").last.flatMap({ Double($0) }) { sum += value }
            }
        }
        return sum
    }

    /// The requests that reached the gates, by route, from their counters: joins, status polls (claims
    /// included), board reads and page loads.
    public static let gateRequestCounters: [(route: String, metric: String)] = [
        ("join", "waitroom_join_duration_seconds_count"), ("status", "waitroom_status_duration_seconds_count"),
        ("board", "waitroom_board_reads_total"), ("page", "waitroom_page_loads_total"),
    ]

    public static func gateRequests(in expositions: [String]) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: gateRequestCounters.map { ($0.route, Int(total(named: $0.metric, in: expositions))) })
    }

    /// Of the first `first` places handed out (the lowest seqs among everyone's), the share bots hold.
    public static func botShare(botSeqs: [Int64], honestSeqs: [Int64], first: Int) -> Double {
        let everyone = (botSeqs.map { ($0, true) } + honestSeqs.map { ($0, false) }).sorted { $0.0 < $1.0 }.prefix(first)
        guard !everyone.isEmpty else { return 0 }
        return Double(everyone.filter(\.1).count) / Double(everyone.count)
    }
}
