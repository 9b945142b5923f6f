import Foundation

/// A room's live-tunable settings. Stored in Redis, seeded from `Config/`, changed by ops at run time.
///
/// Each setting is declared once, in ``RoomSettings/schema``: its name, type, default (the property's
/// initial value here), bounds and documentation. The admin API, the rooms file, the Redis fields, the
/// CLI's flags and the room view are all driven by that list.
public struct RoomSettings: Sendable, Equatable {
    /// Shoppers per second let into checkout.
    public var rate: Double = 0
    /// At most this many shoppers in checkout at once (active admissions plus live offers); nil for no cap.
    public var capacity: Int? = nil
    /// How long an offered shopper has to come back and claim before the offer lapses.
    public var claimWindowSeconds: Int = 60
    /// Lifetime of an admission token.
    public var sessionTTLSeconds: Int = 900
    /// Where admitted shoppers are sent, with `wr_token=<JWT>` appended.
    public var checkoutUrl: String = ""
    /// For scheduled drops: when the room opens (and the pre-queue lottery is drawn).
    public var opensAt: Date? = nil
    /// With a ramp, the rate rises linearly from `rampStartRate` to `rate` over this many seconds after opening.
    public var rampSeconds: Int? = nil
    /// The rate a ramp starts from; a tenth of `rate` when not given.
    public var rampStartRate: Double? = nil
    /// New places per client address per minute on each gate (0: no limit). See ``JoinRateLimiter/defaultPerMinute``.
    public var joinsPerClientPerMinute: Int = JoinRateLimiter.defaultPerMinute
    /// Proof of work before joining: leading zero bits of SHA-256 (0: off).
    public var proofOfWorkBits: Int = 0
    /// Joins need a pass signed by the shop: one place per shop account.
    public var requireJoinPass: Bool = false
    /// The HS256 key join passes are signed with (empty: none).
    public var joinPassSecret: String = ""
    /// Webhooks for the room's events (pre-scale signals, state changes).
    public var hooks: [RoomHook] = []
    /// Where the lottery's beacon will come from, named before opening and published with the commitment
    /// ("drand quicknet round 12345678"): a promise anyone can hold the room to.
    public var lotteryBeaconSource: String? = nil
    /// The beacon's value, typed in before opening; the draw mixes it into the key (``LotteryPermutation``).
    /// Frozen at opening: a later change does not move anyone.
    public var lotteryBeacon: String? = nil

    // Auto-tuning (``RateController``): `rate` becomes the ceiling; the controller moves the rate the
    // admission model runs at between `minRate` and it, by checkout's health.
    /// The admission rate follows checkout's health, within `minRate...rate`.
    public var autoTune: Bool = false
    /// Checkout's p95 latency (ms) to stay under.
    public var targetLatencyMs: Int = 2_000
    /// The share of checkout requests that may fail.
    public var maxErrorRatio: Double = 0.05
    /// A URL the gate reads checkout's health from (JSON `{"p95Ms", "errorRatio"}`) when the order service
    /// cannot push it to `POST /v1/rooms/{room}/health`; nil for none.
    public var healthUrl: String? = nil
    /// The floor auto-tuning never goes below while the room admits (at most `rate`).
    public var minRate: Double = 0
    /// The controller's rate (not a setting: the tuner writes it to the room hash, the store reads it with the
    /// settings so that every reader of the admission model follows it); nil until it decided, and cleared
    /// when ops change `rate` or `autoTune` (a rate set by hand wins at once).
    public var effectiveRate: Double? = nil

    // Presentation: the waiting page is the shop's page. All optional; escaped wherever they are shown.
    /// The page's heading and title (the room's name when unset).
    public var displayName: String? = nil
    /// The link back to the shop (sold out, checkout finished, "leave the line").
    public var shopUrl: String? = nil
    /// The shop's logo, shown above the heading.
    public var logoUrl: String? = nil
    /// The button and progress colour, `#rgb` or `#rrggbb`.
    public var accentColor: String? = nil
    /// A short note from the shop shown on the page ("Limit: one pair per customer").
    public var message: String? = nil
    /// The page's language for every shopper (otherwise chosen by `Accept-Language`).
    public var language: String? = nil

    /// Every setting at its default.
    public init() {}

    /// Settings with `rate` and `checkoutUrl`; a nil argument keeps that setting's default.
    public init(
        rate: Double, capacity: Int? = nil, claimWindowSeconds: Int? = nil, sessionTTLSeconds: Int? = nil, checkoutUrl: String,
        opensAt: Date? = nil, rampSeconds: Int? = nil, rampStartRate: Double? = nil
    ) {
        self.rate = rate
        self.capacity = capacity
        if let claimWindowSeconds { self.claimWindowSeconds = claimWindowSeconds }
        if let sessionTTLSeconds { self.sessionTTLSeconds = sessionTTLSeconds }
        self.checkoutUrl = checkoutUrl
        self.opensAt = opensAt
        self.rampSeconds = rampSeconds
        self.rampStartRate = rampStartRate
    }

    /// `opensAt` in unix milliseconds, 0 when unset (as the scripts read it).
    public var opensAtMs: Int64 {
        get { opensAt.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) } ?? 0 }
        set { opensAt = newValue > 0 ? Date(timeIntervalSince1970: Double(newValue) / 1000) : nil }
    }

    /// Checks every field against its bounds, then the rules between fields; the error names the first bad one.
    public func validate() throws(SettingsError) {
        for setting in Self.schema {
            if let reason = setting.problem(in: self) { throw SettingsError(field: setting.name, reason: reason) }
        }
        if let rampStartRate, rampStartRate > rate { throw SettingsError(field: "rampStartRate", reason: "must be between 0 and rate") }
        if minRate > rate { throw SettingsError(field: "minRate", reason: "must be at most rate") }
        if requireJoinPass && joinPassSecret.isEmpty { throw SettingsError(field: "joinPassSecret", reason: "required when requireJoinPass is true") }
    }
}

/// A setting a change adjusted to keep the settings consistent, named in the admin API's answer.
public struct SettingsAdjustment: Sendable, Equatable, Codable {
    public var field: String
    public var from: Double?
    public var to: Double?
    public var reason: String

    public init(field: String, from: Double?, to: Double?, reason: String) {
        self.field = field
        self.from = from
        self.to = to
        self.reason = reason
    }
}

extension RoomSettings {
    /// These settings after a change of the fields named in `given`, with what the change left inconsistent
    /// and the caller did not set adjusted: a rate below the ramp's start rate lowers the start rate to the
    /// rate (`PATCH {"rate": 0.1}` just works on a room whose old ramp started at 0.2). Settings the caller
    /// gave are never adjusted: contradicting ones are ``validate()``'s to refuse.
    public func reconciled(given: Set<String>) -> (settings: RoomSettings, adjusted: [SettingsAdjustment]) {
        var settings = self
        var adjusted: [SettingsAdjustment] = []
        if let start = rampStartRate, start > rate, !given.contains("rampStartRate") {
            settings.rampStartRate = rate
            adjusted.append(SettingsAdjustment(field: "rampStartRate", from: start, to: rate, reason: "a ramp starts at or below rate"))
        }
        if minRate > rate, !given.contains("minRate") {
            adjusted.append(SettingsAdjustment(field: "minRate", from: minRate, to: rate, reason: "the auto-tuning floor is at most rate"))
            settings.minRate = rate
        }
        return (settings, adjusted)
    }

    /// The rate the admission model runs at (before a ramp): `rate`, or with `autoTune` the controller's
    /// ``effectiveRate`` held within `minRate...rate`. The tick, claim and upsert scripts compute the same
    /// (`admission_rate` in `prelude.lua`).
    public var admissionRate: Double {
        guard autoTune, let effectiveRate else { return rate }
        return min(max(effectiveRate, minRate), rate)
    }

    /// These settings (just written over `old`) with the controller's rate carried over, or cleared when ops
    /// changed `rate` or `autoTune`: a rate set by hand takes effect at once. The upsert script does the same.
    public func carryingTuning(from old: RoomSettings) -> RoomSettings {
        var settings = self
        settings.effectiveRate = old.rate == rate && old.autoTune == autoTune ? old.effectiveRate : nil
        return settings
    }
}

/// A setting that failed validation, naming the field.
public struct SettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    public let field: String
    public let reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(field): \(reason)" }
}

/// Bounds of the proof-of-work setting: 2^24 hashes is about 10 s in a phone's browser; more would shut
/// shoppers out, not bots.
public enum ProofOfWorkLimits {
    public static let maximumBits = 24
}
