import Foundation

/// One sample of a room's cumulative counters, as the tick writes it once a second (and once a minute,
/// with the time-in-queue buckets). Counts between two samples are their differences, so any number of
/// gates can write the same room without double counting.
public struct SeriesSample: Sendable, Equatable {
    /// Unix seconds.
    public var t: Int64
    /// Places handed out (arrivals) and offered so far.
    public var tail: Int64
    public var head: Int64
    public var lapsed: Int64
    public var claims: Int64
    public var releases: Int64
    public var consumed: Int64
    public var active: Int64
    public var offersLive: Int64
    public var offerRate: Double
    public var showUp: Double
    public var state: String
    /// Claims so far by time in queue (``WaitBuckets``); minute samples only.
    public var waits: [Int64]?

    public init(t: Int64, tail: Int64, head: Int64, lapsed: Int64, claims: Int64, releases: Int64, consumed: Int64, active: Int64,
                offersLive: Int64, offerRate: Double, showUp: Double, state: String, waits: [Int64]? = nil) {
        self.t = t
        self.tail = tail
        self.head = head
        self.lapsed = lapsed
        self.claims = claims
        self.releases = releases
        self.consumed = consumed
        self.active = active
        self.offersLive = offersLive
        self.offerRate = offerRate
        self.showUp = showUp
        self.state = state
        self.waits = waits
    }

    /// Parses `t|tail|head|lapsed|claims|releases|consumed|active|offersLive|offerRate|showUp|state[|w0,w1,…]`.
    public init?(line: String) {
        let f = line.split(separator: "|", omittingEmptySubsequences: false)
        guard f.count == 12 || f.count == 13, let t = Int64(f[0]), let tail = Int64(f[1]), let head = Int64(f[2]), let lapsed = Int64(f[3]),
            let claims = Int64(f[4]), let releases = Int64(f[5]), let consumed = Int64(f[6]), let active = Int64(f[7]),
            let offersLive = Int64(f[8]), let offerRate = Double(f[9]), let showUp = Double(f[10])
        else { return nil }
        var waits: [Int64]?
        if f.count == 13 {
            let parsed = f[12].split(separator: ",").compactMap { Int64($0) }
            guard parsed.count == WaitBuckets.count else { return nil }
            waits = parsed
        }
        self.init(t: t, tail: tail, head: head, lapsed: lapsed, claims: claims, releases: releases, consumed: consumed, active: active,
                  offersLive: offersLive, offerRate: offerRate, showUp: showUp, state: String(f[11]), waits: waits)
    }

    /// A sample of an empty room (before anything happened).
    static func zero(at t: Int64) -> SeriesSample {
        SeriesSample(t: t, tail: 0, head: 0, lapsed: 0, claims: 0, releases: 0, consumed: 0, active: 0, offersLive: 0, offerRate: 0,
                     showUp: 1, state: "", waits: Array(repeating: 0, count: WaitBuckets.count))
    }
}

/// Time-in-queue buckets (ticket issued → claim): upper bounds in seconds, the last bucket open. The claim
/// script's `wait_bounds` are the same list.
public enum WaitBuckets {
    public static let bounds: [Double] = [10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200]
    public static var count: Int { bounds.count + 1 }

    /// The percentile's bucket upper bound in seconds (nil without claims; in the open bucket, the last
    /// bound: "at least that").
    public static func percentile(_ p: Double, counts: [Int64]) -> Double? {
        let total = counts.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = Int64((p / 100 * Double(total)).rounded(.up))
        var seen: Int64 = 0
        for (index, count) in counts.enumerated() {
            seen += count
            if seen >= max(1, rank) { return bounds[min(index, bounds.count - 1)] }
        }
        return bounds.last
    }
}

/// A drop's report: totals over a time range and a series at a chosen step, from the room's samples.
public struct RoomReport: Sendable, Equatable, Codable {
    public struct Totals: Sendable, Equatable, Codable {
        public var arrivals: Int64
        public var offers: Int64
        public var claims: Int64
        public var lapsed: Int64
        public var releases: Int64
        public var consumed: Int64
        public var peakWaiting: Int64
        public var peakArrivalsPerSecond: Double
        /// Share of offers that lapsed unclaimed, and orders per admission.
        public var noShowShare: Double?
        public var ordersPerAdmission: Double?
        /// Time in queue of those admitted in the range (bucket upper bounds, seconds).
        public var waitP50Seconds: Double?
        public var waitP90Seconds: Double?
        public var waitP99Seconds: Double?
    }

    public struct Row: Sendable, Equatable, Codable {
        /// Unix seconds: the start of the step.
        public var t: Int64
        public var arrivals: Int64
        public var offers: Int64
        public var claims: Int64
        public var lapsed: Int64
        public var releases: Int64
        public var consumed: Int64
        /// At the end of the step.
        public var waiting: Int64
        public var active: Int64
        public var offerRate: Double
        public var showUp: Double
        public var state: String
    }

    public var from: Int64
    public var to: Int64
    public var step: Int64
    public var totals: Totals
    public var series: [Row]
    /// Claims by time in queue over the range (``WaitBuckets``), when minute samples cover it.
    public var waitBuckets: [Int64]?
    /// Every move of the auto-tuned rate in the range (`room.rate_tuned` events), oldest first; nil when none.
    public var rateChanges: [RateChange]? = nil

    /// One `room.rate_tuned` event as the report lists it.
    public struct RateChange: Sendable, Equatable, Codable {
        /// Unix milliseconds.
        public var atMs: Int64
        public var from: Double?
        public var to: Double?
        public var reason: String?
        public var p95Ms: Double?
        public var errorRatio: Double?

        public init(atMs: Int64, from: Double?, to: Double?, reason: String?, p95Ms: Double?, errorRatio: Double?) {
            self.atMs = atMs
            self.from = from
            self.to = to
            self.reason = reason
            self.p95Ms = p95Ms
            self.errorRatio = errorRatio
        }

        /// From a stored event's data (its JSON object's text); nil when it is not one.
        public init?(atMs: Int64, dataJSON: String) {
            guard let data = try? JSONDecoder().decode([String: JSONValue].self, from: Data(dataJSON.utf8)) else { return nil }
            func number(_ key: String) -> Double? { if case .number(let n)? = data[key] { n } else { nil } }
            var reason: String?
            if case .string(let text)? = data["reason"] { reason = text }
            self.init(atMs: atMs, from: number("from"), to: number("to"), reason: reason, p95Ms: number("p95Ms"), errorRatio: number("errorRatio"))
        }
    }

    /// Builds the report for `[from, to)` at `step` seconds from the samples (sorted by time). `baseline`
    /// is the last sample before `from` (nil: the room's start, all zeros).
    public init(samples: [SeriesSample], baseline: SeriesSample?, from: Int64, to: Int64, step: Int64, minuteSamples: [SeriesSample] = [],
                minuteBaseline: SeriesSample? = nil) {
        self.from = from
        self.to = to
        let step = max(1, step)
        self.step = step
        var previous = baseline ?? .zero(at: from)
        var rows: [Row] = []
        var index = 0
        let inRange = samples.filter { $0.t >= from && $0.t < to }
        var start = from
        while start < to && index <= inRange.count {
            let end = start + step
            var last: SeriesSample?
            while index < inRange.count && inRange[index].t < end {
                last = inRange[index]
                index += 1
            }
            if let last {
                rows.append(Row(
                    t: start, arrivals: last.tail - previous.tail, offers: last.head - previous.head, claims: last.claims - previous.claims,
                    lapsed: last.lapsed - previous.lapsed, releases: last.releases - previous.releases, consumed: last.consumed - previous.consumed,
                    waiting: max(0, last.tail - last.head), active: last.active, offerRate: last.offerRate, showUp: last.showUp, state: last.state
                ))
                previous = last
            }
            start = end
            if index >= inRange.count { break }
        }
        series = rows
        let first = baseline ?? .zero(at: from)
        let last = inRange.last ?? first
        let offers = last.head - first.head
        let claims = last.claims - first.claims
        var waits: [Int64]?
        let minutes = minuteSamples.filter { $0.t >= from && $0.t < to }
        if let lastMinute = minutes.last?.waits {
            let base = minuteBaseline?.waits ?? Array(repeating: 0, count: WaitBuckets.count)
            waits = zip(lastMinute, base).map { $0 - $1 }
        }
        waitBuckets = waits
        totals = Totals(
            arrivals: last.tail - first.tail, offers: offers, claims: claims, lapsed: last.lapsed - first.lapsed,
            releases: last.releases - first.releases, consumed: last.consumed - first.consumed,
            peakWaiting: inRange.map { max(0, $0.tail - $0.head) }.max() ?? 0,
            peakArrivalsPerSecond: rows.map { Double($0.arrivals) / Double(step) }.max() ?? 0,
            noShowShare: offers > 0 ? Double(last.lapsed - first.lapsed) / Double(offers) : nil,
            ordersPerAdmission: claims > 0 ? Double(last.consumed - first.consumed) / Double(claims) : nil,
            waitP50Seconds: waits.flatMap { WaitBuckets.percentile(50, counts: $0) },
            waitP90Seconds: waits.flatMap { WaitBuckets.percentile(90, counts: $0) },
            waitP99Seconds: waits.flatMap { WaitBuckets.percentile(99, counts: $0) }
        )
    }

    /// The series as CSV (header first).
    public var csv: String {
        var lines = ["t,arrivals,offers,claims,lapsed,releases,consumed,waiting,active,offerRate,showUp,state"]
        for r in series {
            lines.append("\(r.t),\(r.arrivals),\(r.offers),\(r.claims),\(r.lapsed),\(r.releases),\(r.consumed),\(r.waiting),\(r.active),\(r.offerRate),\(r.showUp),\(r.state)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
