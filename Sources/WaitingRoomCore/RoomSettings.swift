import Foundation

/// A room's live-tunable settings. Stored in Redis, seeded from `Config/`, changed by ops at run time.
public struct RoomSettings: Codable, Sendable, Equatable {
    /// Shoppers per second let into checkout (claims per second).
    public var rate: Double
    /// At most this many shoppers in checkout at once (active admissions plus live offers); nil for no cap.
    public var capacity: Int?
    /// How long an offered shopper has to come back and claim before the offer lapses.
    public var claimWindowSeconds: Int
    /// Lifetime of an admission token.
    public var sessionTTLSeconds: Int
    /// Where admitted shoppers are sent, with `wr_token=<JWT>` appended.
    public var checkoutUrl: String
    /// For scheduled drops: when the room opens (and the pre-queue lottery is drawn).
    public var opensAt: Date?
    /// With a ramp, the rate rises linearly from `rampStartRate` to `rate` over this many seconds after opening.
    public var rampSeconds: Int?
    /// The rate a ramp starts from; a tenth of `rate` when not given.
    public var rampStartRate: Double?

    public init(
        rate: Double,
        capacity: Int? = nil,
        claimWindowSeconds: Int = 60,
        sessionTTLSeconds: Int = 900,
        checkoutUrl: String,
        opensAt: Date? = nil,
        rampSeconds: Int? = nil,
        rampStartRate: Double? = nil
    ) {
        self.rate = rate
        self.capacity = capacity
        self.claimWindowSeconds = claimWindowSeconds
        self.sessionTTLSeconds = sessionTTLSeconds
        self.checkoutUrl = checkoutUrl
        self.opensAt = opensAt
        self.rampSeconds = rampSeconds
        self.rampStartRate = rampStartRate
    }

    /// Checks every field; the error names the first bad one.
    public func validate() throws(SettingsError) {
        guard rate.isFinite, rate >= 0, rate <= 1_000_000 else { throw .init(field: "rate", reason: "must be between 0 and 1000000") }
        if let capacity, capacity < 0 { throw .init(field: "capacity", reason: "must not be negative") }
        guard (1...86_400).contains(claimWindowSeconds) else { throw .init(field: "claimWindowSeconds", reason: "must be 1...86400") }
        guard (1...86_400).contains(sessionTTLSeconds) else { throw .init(field: "sessionTTLSeconds", reason: "must be 1...86400") }
        let isPath = checkoutUrl.hasPrefix("/") && !checkoutUrl.hasPrefix("//") && URL(string: checkoutUrl) != nil
        let isWebURL = URL(string: checkoutUrl).map { ["http", "https"].contains($0.scheme?.lowercased() ?? "") && $0.host != nil } ?? false
        guard isPath || isWebURL else {
            throw .init(field: "checkoutUrl", reason: "must be an http(s) URL or an absolute path")
        }
        if let rampSeconds, !(0...86_400).contains(rampSeconds) { throw .init(field: "rampSeconds", reason: "must be 0...86400") }
        if let rampStartRate, !(rampStartRate.isFinite && rampStartRate >= 0 && rampStartRate <= rate) {
            throw .init(field: "rampStartRate", reason: "must be between 0 and rate")
        }
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
