/// The rate that tunes itself: with a room's `autoTune` on, `rate` is ops' ceiling and this controller
/// moves the rate the admission model runs at (``RoomSettings/effectiveRate``) between `minRate` and that
/// ceiling, by checkout's health. AIMD, the way TCP shares a link:
///
/// - **degraded** (checkout's p95 above `targetLatencyMs`, or its error ratio above `maxErrorRatio`): the
///   rate is multiplied by ``decreaseFactor`` — at once, then at most once per ``decreaseCooldownMs`` (the
///   signal is an average over the order service's last seconds: it needs that long to show a decrease);
/// - **healthy** (both clearly under: p95 below ``healthyLatencyShare`` of the target and errors below
///   ``healthyErrorShare`` of the limit, for ``healthyIntervalsToIncrease`` intervals in a row, while
///   shoppers wait): the rate rises by ``increaseShare`` of the ceiling. Between the two bands it holds
///   (hysteresis), so a signal hovering at the target does not make the rate saw;
/// - **no signal** (nothing from checkout for ``signalStaleMs``): it holds, and says so, rather than climb
///   on silence;
/// - **at ceiling**: healthy and already at `rate`.
///
/// Whatever the signal says — flapping, lying, absurd — the result stays within `minRate...rate` (0 when
/// `rate` is 0) and moves at most one bounded step per interval. Pure: the clock and every input are
/// passed in; the gate that won the interval (Redis's clock, like the tick) calls ``decide(_:)`` and
/// every gate applies the stored result.
public enum RateController {
    /// One decision per room per interval, whichever gate takes it.
    public static let intervalMs: Int64 = 2_000
    /// A health report older than this is no signal.
    public static let signalStaleMs: Int64 = 10_000
    /// A degraded checkout gets this share of the rate it had.
    public static let decreaseFactor = 0.7
    /// After a decrease, the next one waits this long (the order service's window must see the change).
    public static let decreaseCooldownMs: Int64 = 4_000
    /// A healthy interval adds this share of the ceiling (at least ``AdmissionModel/minimumRate``).
    public static let increaseShare = 0.05
    /// Healthy means p95 below this share of the target…
    public static let healthyLatencyShare = 0.8
    /// …and errors below this share of the limit.
    public static let healthyErrorShare = 0.5
    /// Healthy intervals in a row before each increase.
    public static let healthyIntervalsToIncrease = 2

    /// Why the effective rate is what it is.
    public enum Reason: String, Sendable, Equatable, CaseIterable, Codable {
        case healthy
        case degraded
        case noSignal = "no_signal"
        case atCeiling = "at_ceiling"
    }

    /// The room's counters the gate keeps anyway (cumulative): what checkout does, seen from the gate.
    public struct Counters: Sendable, Equatable {
        public var consumed: Int64
        public var releases: Int64
        public var lapsed: Int64
        public var claims: Int64
        /// Sum of admission-to-consume times (ms) over `consumed`.
        public var consumeMs: Int64

        public init(consumed: Int64 = 0, releases: Int64 = 0, lapsed: Int64 = 0, claims: Int64 = 0, consumeMs: Int64 = 0) {
            self.consumed = consumed
            self.releases = releases
            self.lapsed = lapsed
            self.claims = claims
            self.consumeMs = consumeMs
        }
    }

    /// What the gate saw over the last interval (shown in the room view and the event).
    public struct Observed: Sendable, Equatable, Codable {
        public var consumesPerSecond: Double
        public var releasesPerSecond: Double
        /// Mean time from admission to consume (s); nil without consumes.
        public var checkoutSeconds: Double?
        /// Share of offers that lapsed unclaimed; nil without offers ending.
        public var lapsedShare: Double?

        public init(consumesPerSecond: Double, releasesPerSecond: Double, checkoutSeconds: Double?, lapsedShare: Double?) {
            self.consumesPerSecond = consumesPerSecond
            self.releasesPerSecond = releasesPerSecond
            self.checkoutSeconds = checkoutSeconds
            self.lapsedShare = lapsedShare
        }
    }

    /// What the controller remembers between intervals (stored in the room hash as ``text``: any gate
    /// may decide the next interval).
    public struct Memory: Sendable, Equatable {
        public var atMs: Int64
        public var counters: Counters
        public var healthyStreak: Int
        public var lastDecreaseMs: Int64

        public init(atMs: Int64, counters: Counters, healthyStreak: Int = 0, lastDecreaseMs: Int64 = 0) {
            self.atMs = atMs
            self.counters = counters
            self.healthyStreak = healthyStreak
            self.lastDecreaseMs = lastDecreaseMs
        }

        /// `atMs|consumed|releases|lapsed|claims|consumeMs|healthyStreak|lastDecreaseMs`.
        public var text: String {
            [atMs, counters.consumed, counters.releases, counters.lapsed, counters.claims, counters.consumeMs, Int64(healthyStreak), lastDecreaseMs]
                .map(String.init).joined(separator: "|")
        }

        public init?(text: String) {
            let f = text.split(separator: "|").map { Int64($0) }
            guard f.count == 8, f.allSatisfy({ $0 != nil }) else { return nil }
            let v = f.map { $0! }
            self.init(
                atMs: v[0], counters: Counters(consumed: v[1], releases: v[2], lapsed: v[3], claims: v[4], consumeMs: v[5]),
                healthyStreak: Int(clamping: max(0, v[6])), lastDecreaseMs: v[7]
            )
        }
    }

    /// Everything one decision reads.
    public struct Input: Sendable {
        /// The room's settings: `rate` (ceiling), `minRate`, the targets and the current ``RoomSettings/effectiveRate``.
        public var settings: RoomSettings
        public var state: RoomState
        /// Checkout's latest report (pushed or read from its health URL), nil when none.
        public var health: CheckoutHealth?
        public var counters: Counters
        /// Shoppers waiting: with nobody waiting the rate does not bind, and is not raised.
        public var waiting: Int64
        public var memory: Memory?
        public var nowMs: Int64

        public init(settings: RoomSettings, state: RoomState, health: CheckoutHealth?, counters: Counters, waiting: Int64, memory: Memory?, nowMs: Int64) {
            self.settings = settings
            self.state = state
            self.health = health
            self.counters = counters
            self.waiting = waiting
            self.memory = memory
            self.nowMs = nowMs
        }
    }

    public struct Decision: Sendable, Equatable {
        public var effectiveRate: Double
        public var reason: Reason
        public var memory: Memory
        public var observed: Observed?
        /// The effective rate moved (a `room.rate_tuned` event).
        public var changed: Bool

        public init(effectiveRate: Double, reason: Reason, memory: Memory, observed: Observed? = nil, changed: Bool) {
            self.effectiveRate = effectiveRate
            self.reason = reason
            self.memory = memory
            self.observed = observed
            self.changed = changed
        }
    }

    /// The bounds the effective rate stays in: `minRate...rate` (the floor never above the ceiling).
    public static func bounds(_ settings: RoomSettings) -> ClosedRange<Double> {
        let ceiling = max(0, settings.rate.isFinite ? settings.rate : 0)
        let floor = min(max(0, settings.minRate.isFinite ? settings.minRate : 0), ceiling)
        return floor...ceiling
    }

    /// The largest move one interval may make from `current`.
    public static func maximumStep(from current: Double, ceiling: Double) -> Double {
        max(current * (1 - decreaseFactor), increaseStep(ceiling: ceiling))
    }

    static func increaseStep(ceiling: Double) -> Double {
        max(ceiling * increaseShare, AdmissionModel.minimumRate)
    }

    /// Checkout's health judged against the room's targets; nil when there is no fresh signal.
    public static func judge(_ health: CheckoutHealth?, settings: RoomSettings, nowMs: Int64) -> Judgement? {
        guard let health, health.atMs <= nowMs + signalStaleMs, nowMs - health.atMs <= signalStaleMs else { return nil }
        let target = Double(max(settings.targetLatencyMs, 1))
        let p95 = Double(health.p95Ms)
        let errors = health.errorRatio.isFinite ? health.errorRatio : 1
        if p95 > target || errors > settings.maxErrorRatio { return .degraded }
        if p95 <= target * healthyLatencyShare && errors <= settings.maxErrorRatio * healthyErrorShare { return .healthy }
        return .near
    }

    public enum Judgement: Sendable, Equatable { case healthy, near, degraded }

    /// One interval's decision.
    public static func decide(_ input: Input) -> Decision {
        let bounds = bounds(input.settings)
        let ceiling = bounds.upperBound
        let stored = input.settings.effectiveRate.flatMap { $0.isFinite ? $0 : nil } ?? ceiling
        let current = min(max(stored, bounds.lowerBound), ceiling)
        var memory = input.memory ?? Memory(atMs: input.nowMs, counters: input.counters)
        let observed = observe(from: input.memory, to: input.counters, nowMs: input.nowMs)
        memory.atMs = input.nowMs
        memory.counters = input.counters

        var next = current
        let reason: Reason
        switch judge(input.health, settings: input.settings, nowMs: input.nowMs) {
        case nil:
            memory.healthyStreak = 0
            reason = .noSignal
        case .degraded?:
            memory.healthyStreak = 0
            if input.nowMs - memory.lastDecreaseMs >= decreaseCooldownMs || memory.lastDecreaseMs > input.nowMs {
                next = current * decreaseFactor
                memory.lastDecreaseMs = input.nowMs
            }
            reason = .degraded
        case .near?:
            memory.healthyStreak = 0
            reason = current >= ceiling ? .atCeiling : .healthy
        case .healthy?:
            memory.healthyStreak = min(memory.healthyStreak + 1, 1_000)
            if current < ceiling && input.waiting > 0 && input.state == .open && memory.healthyStreak >= healthyIntervalsToIncrease {
                next = current + increaseStep(ceiling: ceiling)
                memory.healthyStreak = 0
            }
            reason = min(next, ceiling) >= ceiling ? .atCeiling : .healthy
        }
        next = min(max(next, bounds.lowerBound), ceiling)
        return Decision(effectiveRate: next, reason: reason, memory: memory, observed: observed, changed: next != stored || input.settings.effectiveRate == nil)
    }

    /// The gate's own figures between two intervals.
    static func observe(from memory: Memory?, to counters: Counters, nowMs: Int64) -> Observed? {
        guard let memory, nowMs > memory.atMs else { return nil }
        let seconds = Double(nowMs - memory.atMs) / 1_000
        let consumed = max(0, counters.consumed - memory.counters.consumed)
        let lapsed = max(0, counters.lapsed - memory.counters.lapsed)
        let claims = max(0, counters.claims - memory.counters.claims)
        let consumeMs = max(0, counters.consumeMs - memory.counters.consumeMs)
        return Observed(
            consumesPerSecond: Double(consumed) / seconds,
            releasesPerSecond: Double(max(0, counters.releases - memory.counters.releases)) / seconds,
            checkoutSeconds: consumed > 0 ? Double(consumeMs) / Double(consumed) / 1_000 : nil,
            lapsedShare: lapsed + claims > 0 ? Double(lapsed) / Double(lapsed + claims) : nil
        )
    }
}

/// Checkout's own figures over its last few seconds, as the order service reports them
/// (`POST /v1/rooms/{room}/health`, or the JSON its health URL answers).
public struct CheckoutHealth: Sendable, Equatable, Codable {
    /// p95 latency of checkout requests (ms).
    public var p95Ms: Int
    /// Share of checkout requests that failed, 0...1.
    public var errorRatio: Double
    /// Checkouts in progress, when the service says.
    public var inFlight: Int?
    /// When the gate received it (Redis clock, ms).
    public var atMs: Int64

    public init(p95Ms: Int, errorRatio: Double, inFlight: Int? = nil, atMs: Int64 = 0) {
        self.p95Ms = p95Ms
        self.errorRatio = errorRatio
        self.inFlight = inFlight
        self.atMs = atMs
    }

    /// Largest p95 accepted (an hour).
    public static let maximumP95Ms = 3_600_000

    /// A bad report: the field and why.
    public struct Problem: Error, Sendable, Equatable {
        public var field: String
        public var reason: String
    }

    /// Reads a report strictly: `p95Ms` an integer 0...3600000, `errorRatio` a number 0...1, optional
    /// `inFlight` an integer 0...100000000; anything else is refused (a lying or garbled report changes nothing).
    public init(json object: [String: JSONValue]) throws(Problem) {
        for key in object.keys where !["p95Ms", "errorRatio", "inFlight"].contains(key) {
            throw Problem(field: key, reason: "unknown field")
        }
        guard case .number(let p95)? = object["p95Ms"], p95.isFinite, p95.rounded() == p95, (0...Double(Self.maximumP95Ms)).contains(p95) else {
            throw Problem(field: "p95Ms", reason: "must be an integer 0...\(Self.maximumP95Ms)")
        }
        guard case .number(let ratio)? = object["errorRatio"], ratio.isFinite, (0...1).contains(ratio) else {
            throw Problem(field: "errorRatio", reason: "must be a number 0...1")
        }
        var inFlight: Int?
        if let value = object["inFlight"] {
            guard case .number(let n) = value, n.isFinite, n.rounded() == n, (0...100_000_000).contains(n) else {
                throw Problem(field: "inFlight", reason: "must be an integer 0...100000000")
            }
            inFlight = Int(n)
        }
        self.init(p95Ms: Int(p95), errorRatio: ratio, inFlight: inFlight)
    }
}
