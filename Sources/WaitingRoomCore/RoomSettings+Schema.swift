import Foundation

/// One room setting, declared once: what every reader and writer of settings (admin API, rooms file, Redis
/// fields, CLI flags, room view) needs to know about it.
public struct RoomSetting: Sendable {
    public enum Kind: String, Sendable {
        case number, integer, text, date, boolean
        /// A JSON list (stored as its canonical JSON text).
        case list
    }

    /// The public JSON name (admin API, rooms file, room view) and the Redis field name.
    public let name: String
    /// The CLI flag (`--claim-window`); `--no-<flag>` clears a nullable setting.
    public let flag: String
    public let kind: Kind
    /// Null is a value (no capacity, no ramp); otherwise the setting always has a value.
    public let nullable: Bool
    /// Must be given when a room is created.
    public let required: Bool
    /// A secret (e.g. the join-pass key): views show `"(set)"` instead of the value, logs never see it.
    public let secret: Bool
    public let doc: String
    private let get: @Sendable (RoomSettings) -> SettingValue
    private let set: @Sendable (inout RoomSettings, SettingValue) -> Void
    private let check: @Sendable (SettingValue) -> String?

    /// A typed value of a setting.
    public enum SettingValue: Sendable, Equatable {
        case none
        case number(Double)
        case text(String)
        /// Unix milliseconds.
        case date(Int64)
        case bool(Bool)
    }

    /// Why the setting's value in `settings` is out of bounds, or nil.
    public func problem(in settings: RoomSettings) -> String? {
        let value = get(settings)
        if value == .none { return nullable ? nil : "required" }
        return check(value)
    }

    // MARK: JSON (admin API, rooms file, room view)

    /// Reads a JSON value strictly: a boolean is not a number, an integer setting takes whole numbers only,
    /// null only where null means something. Dates are ISO 8601, or `+N` seconds from `now`.
    public func value(fromJSON json: JSONValue, now: Date = Date()) throws(SettingsError) -> SettingValue {
        let expected: String
        switch (kind, json) {
        case (_, .null) where nullable: return .none
        case (.number, .number(let number)) where number.isFinite: return .number(number)
        case (.integer, .number(let number)) where number.isFinite && number.rounded() == number && abs(number) < 1e15: return .number(number)
        case (.text, .string(let text)): return .text(text)
        case (.boolean, .bool(let flag)): return .bool(flag)
        case (.list, .array):
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            guard let data = try? encoder.encode(json), data.count <= 16_384 else { throw SettingsError(field: name, reason: "must be at most 16 KB") }
            // Checked here, not only in validate(): a list that does not decode must not become the empty list.
            let value = SettingValue.text(String(decoding: data, as: UTF8.self))
            if let problem = check(value) { throw SettingsError(field: name, reason: problem) }
            return value
        case (.date, .string(let text)):
            // Bounded before converting to milliseconds: "+1e80" must be refused, not trap (found by fuzzing).
            if let date = Self.date(text, now: now), abs(date.timeIntervalSince1970) < 1e12 {
                return .date(Int64((date.timeIntervalSince1970 * 1000).rounded()))
            }
            expected = "an ISO 8601 date (or +seconds)"
        case (.number, _): expected = "a number"
        case (.integer, _): expected = "an integer"
        case (.text, _): expected = "a string"
        case (.date, _): expected = "an ISO 8601 date (or +seconds)"
        case (.boolean, _): expected = "true or false"
        case (.list, _): expected = "a list"
        }
        throw SettingsError(field: name, reason: "must be \(expected)\(nullable ? " or null" : "")")
    }

    public func json(_ settings: RoomSettings) -> JSONValue {
        json(get(settings))
    }

    public func json(_ value: SettingValue) -> JSONValue {
        if kind == .list, case .text(let text) = value {
            return text.isEmpty ? .array([]) : (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .array([])
        }
        switch value {
        case .none: return .null
        case .number(let number): return .number(number)
        case .text(let text): return .string(text)
        case .date(let ms): return .string(Date(timeIntervalSince1970: Double(ms) / 1000).formatted(.iso8601))
        case .bool(let flag): return .bool(flag)
        }
    }

    /// What a view shows: the value, or for a secret only whether it is set.
    public func publicJSON(_ settings: RoomSettings) -> JSONValue {
        let value = json(settings)
        guard secret else { return value }
        if case .string(let text) = value, !text.isEmpty { return .string(Self.setMarker) }
        // A list of objects: each object's "secret" is masked.
        if case .array(let items) = value {
            return .array(items.map { item in
                guard case .object(var object) = item, object["secret"] != nil else { return item }
                object["secret"] = .string(Self.setMarker)
                return .object(object)
            })
        }
        return value
    }

    /// Shown instead of a secret's value (too short to be a valid secret, so it can never be stored back).
    public static let setMarker = "(set)"

    public func apply(_ value: SettingValue, to settings: inout RoomSettings) {
        set(&settings, value)
    }

    // MARK: Redis fields (the scripts read them: numbers as decimals, dates as unix ms, unset as "")

    public func storedValue(_ settings: RoomSettings) -> String {
        switch get(settings) {
        case .none: return ""
        case .number(let number): return kind == .integer ? String(Int64(number)) : String(number)
        case .text(let text): return text
        case .date(let ms): return String(ms)
        case .bool(let flag): return flag ? "1" : "0"
        }
    }

    /// The value of a stored field; nil when the field is unreadable (the caller keeps the default).
    public func value(fromStored text: String) -> SettingValue? {
        if text.isEmpty { return nullable ? SettingValue.none : nil }
        switch kind {
        case .number, .integer: return Double(text).map(SettingValue.number)
        case .text: return .text(text)
        case .date: return Int64(text).map { $0 > 0 ? .date($0) : SettingValue.none }
        case .boolean: return text == "1" ? .bool(true) : text == "0" ? .bool(false) : nil
        case .list: return .text(text)
        }
    }

    // MARK: CLI

    /// Reads a command-line value (`--rate 25`, `--opens-at 2026-12-01T15:00:00Z`).
    public func value(fromArgument text: String, now: Date = Date()) throws(SettingsError) -> SettingValue {
        switch kind {
        case .number, .integer:
            guard let number = Double(text) else { throw SettingsError(field: name, reason: "must be a number, got '\(text)'") }
            return try value(fromJSON: .number(number), now: now)
        case .text, .date:
            return try value(fromJSON: .string(text), now: now)
        case .boolean:
            guard let flag = Bool(text) else { throw SettingsError(field: name, reason: "must be true or false, got '\(text)'") }
            return .bool(flag)
        case .list:
            guard let json = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
                throw SettingsError(field: name, reason: "must be a JSON list")
            }
            return try value(fromJSON: json, now: now)
        }
    }

    static func date(_ text: String, now: Date) -> Date? {
        if text.hasPrefix("+"), let seconds = Double(text.dropFirst()), seconds.isFinite, seconds >= 0 { return now.addingTimeInterval(seconds) }
        return try? Date(text, strategy: .iso8601)
    }

    // MARK: Declarations

    /// A number setting. With `orZero`, the range's lower bound is the smallest nonzero value and 0 is
    /// allowed as well (a rate: 0 holds the queue; a rate the model cannot carry is neither).
    static func number(
        _ name: String, flag: String? = nil, _ path: WritableKeyPath<RoomSettings, Double> & Sendable, range: ClosedRange<Double>,
        orZero: Bool = false, required: Bool = false, doc: String
    ) -> RoomSetting {
        RoomSetting(
            name: name, flag: flag ?? kebab(name), kind: .number, nullable: false, required: required, secret: false, doc: doc,
            get: { .number($0[keyPath: path]) },
            set: { if case .number(let n) = $1 { $0[keyPath: path] = n } },
            check: { value in Self.outside(value, range, orZero: orZero) }
        )
    }

    static func number(
        _ name: String, flag: String? = nil, _ path: WritableKeyPath<RoomSettings, Double?> & Sendable, range: ClosedRange<Double>,
        orZero: Bool = false, doc: String
    ) -> RoomSetting {
        RoomSetting(
            name: name, flag: flag ?? kebab(name), kind: .number, nullable: true, required: false, secret: false, doc: doc,
            get: { $0[keyPath: path].map(SettingValue.number) ?? .none },
            set: { settings, value in settings[keyPath: path] = { if case .number(let n) = value { return n } else { return nil } }() },
            check: { value in Self.outside(value, range, orZero: orZero) }
        )
    }

    static func integer(
        _ name: String, flag: String? = nil, _ path: WritableKeyPath<RoomSettings, Int> & Sendable, range: ClosedRange<Int>, doc: String
    ) -> RoomSetting {
        RoomSetting(
            name: name, flag: flag ?? kebab(name), kind: .integer, nullable: false, required: false, secret: false, doc: doc,
            get: { .number(Double($0[keyPath: path])) },
            set: { if case .number(let n) = $1, let i = Int(exactly: n) { $0[keyPath: path] = i } },
            check: { value in Self.outside(value, Double(range.lowerBound)...Double(range.upperBound)) }
        )
    }

    static func integer(
        _ name: String, flag: String? = nil, _ path: WritableKeyPath<RoomSettings, Int?> & Sendable, range: ClosedRange<Int>, doc: String
    ) -> RoomSetting {
        RoomSetting(
            name: name, flag: flag ?? kebab(name), kind: .integer, nullable: true, required: false, secret: false, doc: doc,
            get: { $0[keyPath: path].map { SettingValue.number(Double($0)) } ?? .none },
            set: { settings, value in settings[keyPath: path] = { if case .number(let n) = value { return Int(exactly: n) } else { return nil } }() },
            check: { value in Self.outside(value, Double(range.lowerBound)...Double(range.upperBound)) }
        )
    }

    static func text(
        _ name: String, flag: String? = nil, _ path: WritableKeyPath<RoomSettings, String> & Sendable, required: Bool = false, doc: String,
        check: @escaping @Sendable (String) -> String?
    ) -> RoomSetting {
        RoomSetting(
            name: name, flag: flag ?? kebab(name), kind: .text, nullable: false, required: required, secret: false, doc: doc,
            get: { .text($0[keyPath: path]) },
            set: { if case .text(let t) = $1 { $0[keyPath: path] = t } },
            check: { value in if case .text(let t) = value { return check(t) } else { return "must be a string" } }
        )
    }

    /// An optional text setting: null (or, from Redis, an empty field) when unset.
    static func text(
        _ name: String, flag: String? = nil, _ path: WritableKeyPath<RoomSettings, String?> & Sendable, doc: String,
        check: @escaping @Sendable (String) -> String?
    ) -> RoomSetting {
        RoomSetting(
            name: name, flag: flag ?? kebab(name), kind: .text, nullable: true, required: false, secret: false, doc: doc,
            get: { $0[keyPath: path].map(SettingValue.text) ?? .none },
            set: { settings, value in settings[keyPath: path] = { if case .text(let t) = value { return t } else { return nil } }() },
            check: { value in if case .text(let t) = value { return check(t) } else { return "must be a string" } }
        )
    }

    static func boolean(_ name: String, flag: String? = nil, _ path: WritableKeyPath<RoomSettings, Bool> & Sendable, doc: String) -> RoomSetting {
        RoomSetting(
            name: name, flag: flag ?? kebab(name), kind: .boolean, nullable: false, required: false, secret: false, doc: doc,
            get: { .bool($0[keyPath: path]) },
            set: { if case .bool(let b) = $1 { $0[keyPath: path] = b } },
            check: { value in if case .bool = value { return nil } else { return "must be true or false" } }
        )
    }

    /// A secret text setting: unset is null in views (and null or "" clears it); otherwise at least
    /// `minimumLength` characters.
    static func secret(
        _ name: String, flag: String? = nil, _ path: WritableKeyPath<RoomSettings, String> & Sendable, minimumLength: Int, doc: String
    ) -> RoomSetting {
        RoomSetting(
            name: name, flag: flag ?? kebab(name), kind: .text, nullable: true, required: false, secret: true, doc: doc,
            get: { $0[keyPath: path].isEmpty ? .none : .text($0[keyPath: path]) },
            set: { if case .text(let t) = $1 { $0[keyPath: path] = t } else { $0[keyPath: path] = "" } },
            check: { value in
                guard case .text(let text) = value else { return "must be a string" }
                return text.isEmpty || text.utf8.count >= minimumLength ? nil : "must be empty or at least \(minimumLength) characters"
            }
        )
    }

    /// The room's webhooks: a JSON list of ``RoomHook`` objects (their secrets masked in views).
    static func hooks(_ name: String, _ path: WritableKeyPath<RoomSettings, [RoomHook]> & Sendable, doc: String) -> RoomSetting {
        RoomSetting(
            name: name, flag: kebab(name), kind: .list, nullable: false, required: false, secret: true, doc: doc,
            get: { .text(RoomHook.encode($0[keyPath: path])) },
            set: { if case .text(let t) = $1, let hooks = RoomHook.decode(t) { $0[keyPath: path] = hooks } },
            check: { value in
                guard case .text(let text) = value else { return "must be a list" }
                guard let hooks = RoomHook.decode(text) else { return "must be a list of {url, events, secret[, leads, queueAbove]}" }
                guard hooks.count <= RoomHook.maximumHooks else { return "at most \(RoomHook.maximumHooks) hooks" }
                for (index, hook) in hooks.enumerated() {
                    if let problem = hook.problem() { return "[\(index)] \(problem)" }
                }
                return nil
            }
        )
    }

    static func date(_ name: String, flag: String? = nil, _ path: WritableKeyPath<RoomSettings, Date?> & Sendable, doc: String) -> RoomSetting {
        RoomSetting(
            name: name, flag: flag ?? kebab(name), kind: .date, nullable: true, required: false, secret: false, doc: doc,
            get: { $0[keyPath: path].map { SettingValue.date(Int64(($0.timeIntervalSince1970 * 1000).rounded())) } ?? .none },
            set: { settings, value in settings[keyPath: path] = { if case .date(let ms) = value { return Date(timeIntervalSince1970: Double(ms) / 1000) } else { return nil } }() },
            check: { value in
                // Unix milliseconds between 2000 and 3000: earlier is a typo, and Redis stores 0 as "unset".
                guard case .date(let ms) = value, (946_684_800_000...32_503_680_000_000).contains(ms) else { return "must be between 2000 and 3000" }
                return nil
            }
        )
    }

    private static func outside(_ value: SettingValue, _ range: ClosedRange<Double>, orZero: Bool = false) -> String? {
        guard case .number(let number) = value else { return "must be a number" }
        if orZero && number == 0 { return nil }
        guard number.isFinite, range.contains(number) else {
            return "must be \(orZero ? "0 or " : "")\(Self.format(range.lowerBound))...\(Self.format(range.upperBound))"
        }
        return nil
    }

    private static func format(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    private static func kebab(_ name: String) -> String {
        var out = ""
        for character in name {
            if character.isUppercase { out += "-" + character.lowercased() } else { out.append(character) }
        }
        return out
    }
}

extension RoomSettings {
    /// Every room setting. Adding one is a property above plus a line here (and its use).
    public static let schema: [RoomSetting] = [
        .number("rate", \.rate, range: AdmissionModel.minimumRate...1_000_000, orZero: true, required: true, doc: "Shoppers per second let into checkout: 0 (holds the queue) or 0.001...1000000."),
        .integer("capacity", \.capacity, range: 0...100_000_000, doc: "Most shoppers in checkout at once (admissions plus live offers); null for no limit."),
        .integer("claimWindowSeconds", flag: "claim-window", \.claimWindowSeconds, range: 1...86_400, doc: "Seconds an offered shopper has to come back before the offer lapses."),
        .integer("sessionTTLSeconds", flag: "session-ttl", \.sessionTTLSeconds, range: 1...86_400, doc: "Seconds an admission token (a checkout session) lasts."),
        .text("checkoutUrl", \.checkoutUrl, required: true, doc: "Where admitted shoppers go (http(s) URL or absolute path); wr_token=<JWT> is appended.", check: { CheckoutURL.validate($0) }),
        .date("opensAt", \.opensAt, doc: "When a scheduled drop opens (ISO 8601, or +seconds); earlier arrivals are ordered by lottery."),
        .integer("rampSeconds", \.rampSeconds, range: 0...86_400, doc: "Seconds over which the rate rises after opening; null for none."),
        .number("rampStartRate", \.rampStartRate, range: AdmissionModel.minimumRate...1_000_000, orZero: true, doc: "Rate at the start of the ramp, 0 or 0.001... and at most rate (default: a tenth of rate); a rate change below it lowers it to the rate."),
        .integer("joinsPerClientPerMinute", flag: "joins-per-client", \.joinsPerClientPerMinute, range: 0...1_000_000, doc: "New places per client address (IPv6: per /64) per minute on each gate, a minute's worth at once; 0 turns the limit off."),
        .integer("proofOfWorkBits", flag: "pow-bits", \.proofOfWorkBits, range: 0...ProofOfWorkLimits.maximumBits, doc: "Leading zero bits of SHA-256 a browser must find before it may join (0: off)."),
        .boolean("requireJoinPass", \.requireJoinPass, doc: "Joins need a pass the shop signed ({room, sub, exp}, HS256 with joinPassSecret): one place per shop account."),
        .secret("joinPassSecret", \.joinPassSecret, minimumLength: 32, doc: "The HS256 key of join passes (at least 32 characters); views show (set), or null when unset."),
        .text("displayName", \.displayName, doc: "The waiting page's heading and title, up to 80 characters (default: the room's name).", check: { PagePresentation.plainText($0, maxLength: 80) }),
        .text("shopUrl", \.shopUrl, doc: "The link back to the shop (http(s) URL or absolute path).", check: { PagePresentation.link($0) }),
        .text("logoUrl", \.logoUrl, doc: "The shop's logo on the waiting page (http(s) URL or absolute path).", check: { PagePresentation.link($0) }),
        .text("accentColor", \.accentColor, doc: "Button and progress colour on the waiting page (#rgb or #rrggbb).", check: { PagePresentation.color($0) }),
        .text("message", \.message, doc: "A short note from the shop on the waiting page.", check: { PagePresentation.plainText($0, maxLength: 500) }),
        .text("language", \.language, doc: "The waiting page's language for everyone (en, es, fr, de, ja); default: by Accept-Language.", check: { PagePresentation.language($0) }),
        .text("lotteryBeaconSource", \.lotteryBeaconSource, doc: "Where the lottery's beacon will come from, published with the commitment before opening (up to 200 characters).", check: { PagePresentation.plainText($0, maxLength: 200) }),
        .text("lotteryBeacon", \.lotteryBeacon, doc: "The beacon's value, typed in before opening: 1 to 256 printable ASCII characters, mixed into the lottery key (frozen at opening).", check: { LotteryPermutation.beaconProblem($0) }),
        .boolean("autoTune", \.autoTune, doc: "The admission rate follows checkout's health (RateController): rate is then the ceiling, minRate the floor."),
        .integer("targetLatencyMs", \.targetLatencyMs, range: 1...600_000, doc: "Auto-tuning: checkout's p95 latency (ms) to stay under."),
        .number("maxErrorRatio", \.maxErrorRatio, range: 0...1, doc: "Auto-tuning: the share of failing checkout requests tolerated, 0...1."),
        .number("minRate", \.minRate, range: AdmissionModel.minimumRate...1_000_000, orZero: true, doc: "Auto-tuning's floor, 0 or 0.001... and at most rate; a rate change below it lowers it to the rate."),
        .text("healthUrl", \.healthUrl, doc: "Auto-tuning: an http(s) URL answering checkout's health as JSON {p95Ms, errorRatio}, read by one gate every interval (for an order service that cannot push).", check: { url in
            if let reason = CheckoutURL.validate(url) { return reason }
            let lower = url.lowercased()
            return lower.hasPrefix("http://") || lower.hasPrefix("https://") ? nil : "must be an absolute http(s) URL"
        }),
        .hooks("hooks", \.hooks, doc: "Webhooks: [{url, events, secret, leads?, queueAbove?}], signed Waitroom-Signature deliveries of the room's events."),
    ]

    public static func setting(named name: String) -> RoomSetting? {
        schema.first { $0.name == name }
    }

    /// A room's settings from a JSON object (PUT, rooms file): required settings must be present, unknown
    /// fields are refused, absent ones take their defaults.
    public init(json object: [String: JSONValue], now: Date = Date()) throws(SettingsError) {
        for setting in Self.schema where setting.required && object[setting.name] == nil {
            throw SettingsError(field: setting.name, reason: "required")
        }
        self = try RoomSettings().merging(json: object, now: now)
    }

    /// These settings with the fields of `object` changed (PATCH); unknown fields are refused.
    public func merging(json object: [String: JSONValue], now: Date = Date()) throws(SettingsError) -> RoomSettings {
        var settings = self
        for (name, json) in object.sorted(by: { $0.key < $1.key }) {
            guard let setting = Self.setting(named: name) else { throw SettingsError(field: name, reason: "unknown field") }
            setting.apply(try setting.value(fromJSON: json, now: now), to: &settings)
        }
        return settings
    }

    /// The settings as a JSON object (null for unset optional settings), secrets included (for writing).
    public var json: [String: JSONValue] {
        Dictionary(uniqueKeysWithValues: Self.schema.map { ($0.name, $0.json(self)) })
    }

    /// The settings as views show them: secrets only say whether they are set.
    public var publicJSON: [String: JSONValue] {
        Dictionary(uniqueKeysWithValues: Self.schema.map { ($0.name, $0.publicJSON(self)) })
    }

    /// The settings as fields of the room hash; every setting is always written, so a replace clears what
    /// is not given and the scripts need no defaults of their own.
    public var storedFields: [(String, String)] {
        Self.schema.map { ($0.name, $0.storedValue(self)) }
    }

    /// Settings from the room hash; nil when a required setting is missing.
    public init?(storedFields fields: [String: String]) {
        var settings = RoomSettings()
        for setting in Self.schema {
            guard let text = fields[setting.name] else {
                if setting.required { return nil }
                continue
            }
            if let value = setting.value(fromStored: text) { setting.apply(value, to: &settings) }
        }
        // Not a setting: the tuner's decision, stored beside them (RateController).
        settings.effectiveRate = fields["effectiveRate"].flatMap(Double.init).flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
        self = settings
    }
}
