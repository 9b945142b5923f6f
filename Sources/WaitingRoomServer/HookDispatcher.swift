import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import WaitingRoomCore
import WaitingRoomStore
import WaitingRoomTokens

/// Consumes every room's events stream through one consumer group shared by all gates, so each event is
/// handled by exactly one gate: delivered to the hooks that subscribe to it (signed, retried with backoff
/// while the receiver fails, given up after `maxAttempts`), and written to the log when asked. The hooks are
/// those the room had when the event happened (the event names that list), with their secrets then: an edit
/// after the event changes neither where it goes nor how it is signed.
struct HookDispatcher: Service {
    let store: RoomStore
    let cache: RoomCache
    /// This gate's consumer name in the group.
    let consumer: String
    let logger: Logger
    let logEvents: Bool
    var interval: Duration = .milliseconds(250)
    var maxAttempts = 6
    /// Events older than this are acknowledged without calling hooks (a backlog from before hooks were set).
    var staleAfterMs: Int64 = 600_000

    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .seconds(3)
        configuration.timeout.read = .seconds(Int64(deliveryTimeoutMs / 1_000))
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// How long one delivery may take.
    static let deliveryTimeoutMs: Int64 = 5_000

    /// The wait before attempt `deliveries + 1`: 1 s, 2 s, 4 s … up to a minute, and never less than a
    /// delivery may take — an event still being delivered by one gate is not taken over (and sent twice)
    /// by another.
    static func backoffMs(_ deliveries: Int) -> Int64 {
        max(deliveryTimeoutMs + 1_000, min(60_000, 1_000 << Int64(max(0, min(deliveries - 1, 6)))))
    }

    func run() async throws {
        var failing = false
        var lastRetryScan = ContinuousClock.now
        // Rooms seen with hooks, and when: a room whose hooks were just removed still has events made
        // under them to deliver, for as long as those are fresh.
        var hookedAt: [String: ContinuousClock.Instant] = [:]
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                // Only rooms with hooks are read (and all rooms when events go to the log): a room without
                // either costs nothing here; its stream waits, capped, for a warehouse.
                let now = ContinuousClock.now
                for room in cache.roomNames where !(cache.entry(room)?.snapshot.settings.hooks.isEmpty ?? true) { hookedAt[room] = now }
                hookedAt = hookedAt.filter { now - $0.value < .milliseconds(staleAfterMs) }
                let hooked = hookedAt.keys.sorted()
                let rooms = logEvents ? Array(Set(cache.roomNames).union(hooked)).sorted() : hooked
                for (room, events) in try await store.readEvents(rooms: rooms, consumer: consumer) {
                    for event in events { try await handle(room: room, event) }
                }
                if now - lastRetryScan >= .seconds(1) {
                    lastRetryScan = now
                    for room in hooked {
                        for event in try await store.retryableEvents(room: room, consumer: consumer, backoffMs: Self.backoffMs) {
                            try await handle(room: room, event)
                        }
                    }
                }
                if failing { logger.info("hook dispatcher recovered") }
                failing = false
            } catch {
                if !failing { logger.warning("hook dispatcher cannot read events; retrying", metadata: ["error": "\(error)"]) }
                failing = true
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Delivers `event` to each subscribed hook that has not accepted it yet; acknowledges it once all
    /// have (or after the last attempt).
    func handle(room: String, _ event: RoomStore.StoredEvent) async throws {
        if logEvents && event.deliveries == 1 {
            logger.info("room event", metadata: ["room": "\(room)", "type": "\(event.type)", "event_id": "\(event.id)", "data": "\(event.data)"])
        }
        let fresh = Int64(Date().timeIntervalSince1970 * 1000) - event.atMs < staleAfterMs
        let hooks: [RoomHook]
        switch event.hookSet {
        case _ where !fresh: hooks = []
        case nil: hooks = cache.entry(room)?.snapshot.settings.hooks ?? []  // recorded by a gate that kept no hook list
        case let set?: hooks = try await store.hookSet(room: room, id: set) ?? []
        }
        var pending = false
        for (index, hook) in hooks.enumerated() where hook.events.contains(event.type) {
            if try await store.hookDelivered(room: room, eventID: event.id, index: index) { continue }
            let outcome = await deliver(hook, room: room, event: event)
            let record = DeliveryRecord(
                event: Self.eventID(room: room, event), type: event.type, url: hook.url, attempt: event.deliveries,
                status: outcome.status, error: outcome.error, at: Date().formatted(.iso8601), gaveUp: !outcome.ok && event.deliveries >= maxAttempts
            )
            try await store.recordHookDelivery(room: room, eventID: event.id, index: index, succeeded: outcome.ok, recordJSON: record.json)
            if !outcome.ok {
                pending = true
                logger.warning(
                    record.gaveUp ? "hook delivery failed; giving up" : "hook delivery failed; will retry",
                    metadata: ["room": "\(room)", "type": "\(event.type)", "url": "\(hook.url)", "attempt": "\(event.deliveries)", "error": "\(outcome.error ?? "")"]
                )
            }
        }
        if !pending || event.deliveries >= maxAttempts {
            try await store.acknowledgeEvents(room: room, ids: [event.id])
        }
    }

    static func eventID(room: String, _ event: RoomStore.StoredEvent) -> String { "\(room):\(event.id)" }

    /// The JSON body a hook receives. A pre-scale signal's data gains its `recommendation`, computed here
    /// from what the tick recorded (the same on every attempt: it depends on the event alone).
    static func body(room: String, _ event: RoomStore.StoredEvent) -> String {
        let at = Date(timeIntervalSince1970: Double(event.atMs) / 1000).formatted(.iso8601)
        return #"{"id":"\#(JSONText.escape(eventID(room: room, event)))","type":"\#(JSONText.escape(event.type))","room":"\#(JSONText.escape(room))","at":"\#(at)","data":\#(data(event))}"#
    }

    static let prescaleTypes: Set<String> = ["room.opening_soon", "room.prescale"]

    /// The event's data, with the recommendation spliced in for a pre-scale signal.
    static func data(_ event: RoomStore.StoredEvent) -> String {
        guard prescaleTypes.contains(event.type), event.data.hasSuffix("}"),
            var signal = try? JSONDecoder().decode(PrescalePlan.Signal.self, from: Data(event.data.utf8))
        else { return event.data }
        signal.atMs = event.atMs
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let recommendation = try? encoder.encode(PrescalePlan(signal: signal).recommendation) else { return event.data }
        return String(event.data.dropLast()) + #","recommendation":"# + String(decoding: recommendation, as: UTF8.self) + "}"
    }

    /// `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
    static func signature(secret: String, body: String, unixSeconds: Int64) -> String {
        "t=\(unixSeconds),v1=" + HMAC.hex(HMAC.sha256(key: Array(secret.utf8), message: Array("\(unixSeconds).\(body)".utf8)))
    }

    private func deliver(_ hook: RoomHook, room: String, event: RoomStore.StoredEvent) async -> (ok: Bool, status: Int?, error: String?) {
        let body = Self.body(room: room, event)
        var request = HTTPClientRequest(url: hook.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "waitroom-hooks")
        request.headers.add(name: "Waitroom-Event-Id", value: Self.eventID(room: room, event))
        request.headers.add(name: "Waitroom-Signature", value: Self.signature(secret: hook.secret, body: body, unixSeconds: Int64(Date().timeIntervalSince1970)))
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await Self.client.execute(request, timeout: .milliseconds(Self.deliveryTimeoutMs))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            let status = Int(response.status.code)
            return ((200..<300).contains(status), status, (200..<300).contains(status) ? nil : "HTTP \(status)")
        } catch {
            return (false, nil, "\(error)")
        }
    }
}

/// One delivery attempt as the room view lists it.
struct DeliveryRecord: Codable, Sendable {
    var event: String
    var type: String
    var url: String
    var attempt: Int
    var status: Int?
    var error: String?
    var at: String
    var gaveUp: Bool

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
