import Foundation

/// A webhook a room calls when something happens to it (the room setting `hooks`: a list of these).
/// Deliveries are signed like Stripe's: `Waitroom-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
public struct RoomHook: Sendable, Equatable, Codable {
    /// Where events are POSTed (http or https).
    public var url: String
    /// The event types this hook receives (see ``RoomEvent``).
    public var events: [String]
    /// The HMAC key of the signature (16 to 256 characters).
    public var secret: String
    /// For `room.opening_soon` and `room.prescale`: seconds before `opensAt` to call (e.g. [900, 300, 60]: the
    /// pre-scale signal, with a recommendation from ``PrescalePlan``).
    public var leads: [Int]?
    /// For `room.queue_above`: called when the number waiting rises above this.
    public var queueAbove: Int?

    public init(url: String, events: [String], secret: String, leads: [Int]? = nil, queueAbove: Int? = nil) {
        self.url = url
        self.events = events
        self.secret = secret
        self.leads = leads
        self.queueAbove = queueAbove
    }

    public static let maximumHooks = 10

    /// Why this hook is refused, or nil.
    public func problem() -> String? {
        if let reason = CheckoutURL.validate(url) { return "url \(reason)" }
        guard url.lowercased().hasPrefix("http://") || url.lowercased().hasPrefix("https://") else { return "url must be an http(s) URL" }
        guard !events.isEmpty, events.count <= RoomEvent.hookTypes.count else { return "events must name 1 to \(RoomEvent.hookTypes.count) event types" }
        if let unknown = events.first(where: { !RoomEvent.hookTypes.contains($0) }) {
            return "unknown event \(unknown); use \(RoomEvent.hookTypes.joined(separator: ", "))"
        }
        guard (16...256).contains(secret.utf8.count) else { return "secret must be 16 to 256 characters" }
        if let leads {
            guard leads.count <= 10, leads.allSatisfy({ (1...604_800).contains($0) }) else { return "leads must be up to 10 numbers of seconds, 1...604800" }
        }
        if let queueAbove, !(1...100_000_000).contains(queueAbove) { return "queueAbove must be 1...100000000" }
        return nil
    }

    /// The hooks as the canonical JSON text stored in Redis (the tick reads leads and thresholds from it).
    public static func encode(_ hooks: [RoomHook]) -> String {
        guard !hooks.isEmpty else { return "" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(hooks)) ?? Data("[]".utf8), as: UTF8.self)
    }

    public static func decode(_ text: String) -> [RoomHook]? {
        if text.isEmpty { return [] }
        return try? JSONDecoder().decode([RoomHook].self, from: Data(text.utf8))
    }
}

/// The events a room emits: to its events stream (for a warehouse) and to its hooks.
public enum RoomEvent {
    /// Types a hook may subscribe to.
    public static let hookTypes = [
        "room.opening_soon", "room.prescale", "room.opened", "room.paused", "room.resumed", "room.closed", "room.rate_changed", "room.queue_drained",
        "room.queue_above", "room.rate_tuned",
    ]
    /// Types only the stream carries: settings changes and per-minute aggregates.
    public static let streamTypes = ["room.created", "room.deleted", "room.settings_changed", "room.minute"]
}
