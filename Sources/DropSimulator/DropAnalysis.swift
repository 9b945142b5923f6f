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
    public static func measurementWindow(claimTimes: [Double], claimWindowSeconds: Double) -> (from: Double, to: Double)? {
        guard let first = claimTimes.min(), let last = claimTimes.max() else { return nil }
        let from = first + claimWindowSeconds
        let to = last
        return to - from >= 5 ? (from, to) : nil
    }

    /// Signed percent error of `measured` against `target`.
    public static func percentError(measured: Double, target: Double) -> Double {
        target == 0 ? 0 : (measured - target) / target * 100
    }
}
