import Foundation
import Hummingbird
import WaitingRoomCore
import WaitingRoomStore
import WaitingRoomTokens

/// The ops API under `/admin/v1` (the group's middleware checks the admin key) and the dashboard page.
struct AdminRoutes: Sendable {
    let store: RoomStore
    let cache: RoomCache
    let adminKey: String?
    let reader: RequestReader
    let failures: StoreFailures
    let dashboard: StaticPage

    func add(to router: Router<BasicRequestContext>) {
        router.get("/admin/dashboard") { _, _ in self.dashboard.response }
        let admin = router.group("/admin/v1").add(middleware: BearerKeyMiddleware(key: adminKey))
        admin.get("/rooms") { _, _ in
            let rooms = self.cache.roomNames.compactMap { name in self.cache.entry(name).map { RoomView(name: name, entry: $0) } }
            // Gates' health from their heartbeats (absent while Redis is unreachable: the rooms are stale then too).
            let gates = (try? await self.store.heartbeats()).map { GateHealth.list($0) }
            return try Responses.encode(RoomList(rooms: rooms, gates: gates, redisReachable: gates != nil && !rooms.contains { $0.live.stale }))
        }
        addReport(to: admin)
        admin.get("/rooms/:room") { _, context in
            let name = try RequestReader.roomName(context)
            guard let entry = self.cache.entry(name) else { throw APIError.notFound("no such room") }
            var view = RoomView(name: name, entry: entry)
            let deliveries = (try? await self.store.hookDeliveries(room: name)) ?? []
            view.hookDeliveries = deliveries.compactMap { try? JSONDecoder().decode(RoomView.HookDeliveryView.self, from: Data($0.utf8)) }
            return try Responses.encode(view)
        }
        admin.put("/rooms/:room") { request, context in
            let name = try RequestReader.roomName(context)
            let object = try await self.reader.jsonObject(request)
            let (settings, adjusted) = try Self.settings(given: object) { () throws(SettingsError) in try RoomSettings(json: object) }
            let before: RoomSettings?
            do { before = try await self.store.settings(room: name) } catch { throw self.failures.response(for: error) }
            let result = try await self.write(name, settings, mode: .createOrReplace)
            if result == .created {
                await self.emit(name, "room.created", ["settings": .object(settings.publicJSON), "by": .string(self.keyID)])
            } else if let before {
                await self.emitChanges(name, from: before, to: settings)
            }
            return try await self.roomResponse(name, status: result == .created ? .created : .ok, adjusted: adjusted)
        }
        admin.patch("/rooms/:room") { request, context in
            let name = try RequestReader.roomName(context)
            let changes = try await self.reader.jsonObject(request)
            let current: RoomSettings?
            do { current = try await self.store.settings(room: name) } catch { throw self.failures.response(for: error) }
            guard let current else { throw APIError.notFound("no such room") }
            let (merged, adjusted) = try Self.settings(given: changes) { () throws(SettingsError) in try current.merging(json: changes) }
            guard try await self.write(name, merged, mode: .update) != .untouched else { throw APIError.notFound("no such room") }
            await self.emitChanges(name, from: current, to: merged)
            return try await self.roomResponse(name, status: .ok, adjusted: adjusted)
        }
        admin.delete("/rooms/:room") { _, context in
            let name = try RequestReader.roomName(context)
            let deleted: Bool
            do { deleted = try await self.store.delete(room: name) } catch { throw self.failures.response(for: error) }
            guard deleted else { throw APIError.notFound("no such room") }
            self.cache.remove(name)
            await self.emit(name, "room.deleted", ["by": .string(self.keyID)])
            return Response(status: .noContent)
        }
        admin.post("/rooms/:room/:action") { _, context in
            let name = try RequestReader.roomName(context)
            guard let action = context.parameters.get("action").flatMap(RoomAction.init(rawValue:)) else {
                throw APIError.notFound("unknown action: use pause, resume, close or open")
            }
            let change: RoomStore.StateChange
            // The store records the change's event in the same step (bound to the hooks the room has then).
            do { change = try await self.store.change(room: name, action, by: self.keyID) } catch { throw self.failures.response(for: error) }
            switch change {
            case .missing: throw APIError.notFound("no such room")
            case .conflict(let current): throw APIError(.conflict, "conflict", "cannot \(action.rawValue) a room that is \(current.rawValue)")
            case .changed:
                return try await self.roomResponse(name, status: .ok)
            }
        }
    }

    /// Which admin key made a change, without revealing it: the first 8 hex digits of its SHA-256.
    var keyID: String {
        adminKey.map { "key:" + HMAC.hex(Array(Digest.sha256(Array($0.utf8)).prefix(4))) } ?? "key:none"
    }

    /// Appends an event to the room's stream (hooks and the warehouse read it). A failure is logged, never
    /// fails the change that already happened.
    func emit(_ room: String, _ type: String, _ data: [String: JSONValue]) async {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let text = String(decoding: (try? encoder.encode(data)) ?? Data("{}".utf8), as: UTF8.self)
        do {
            try await store.appendEvent(room: room, type: type, dataJSON: text)
        } catch {
            failures.logger.warning("could not record a room event", metadata: ["room": "\(room)", "type": "\(type)", "error": "\(error)"])
        }
    }

    /// `room.settings_changed` with what changed (secrets masked), and `room.rate_changed` when the rate did.
    func emitChanges(_ room: String, from old: RoomSettings, to new: RoomSettings) async {
        let before = old.publicJSON
        var changes: [String: JSONValue] = [:]
        for (field, value) in new.publicJSON where before[field] != value || (field == "joinPassSecret" && old.joinPassSecret != new.joinPassSecret) {
            changes[field] = .object(["from": before[field] ?? .null, "to": value])
        }
        guard !changes.isEmpty else { return }
        await emit(room, "room.settings_changed", ["changes": .object(changes), "by": .string(keyID)])
        if old.rate != new.rate {
            await emit(room, "room.rate_changed", ["from": .number(old.rate), "to": .number(new.rate), "by": .string(keyID)])
        }
    }

    /// Runs a settings reader, adjusts what the change left inconsistent and the request did not set
    /// (``RoomSettings/reconciled(given:)``), and validates the result; a bad field is a 400 that names it.
    private static func settings(
        given object: [String: JSONValue], _ read: () throws(SettingsError) -> RoomSettings
    ) throws(APIError) -> (RoomSettings, [SettingsAdjustment]) {
        do {
            let (settings, adjusted) = try read().reconciled(given: Set(object.keys))
            try settings.validate()
            return (settings, adjusted)
        } catch {
            let code = error.reason == "unknown field" ? "unknown_field" : "invalid_\(error.field)"
            throw .badRequest("\(error.field): \(error.reason)", code: code)
        }
    }

    private func write(_ name: String, _ settings: RoomSettings, mode: RoomStore.WriteMode) async throws(APIError) -> RoomStore.WriteResult {
        do {
            return try await store.write(room: name, settings: settings, mode: mode)
        } catch {
            throw failures.response(for: error)
        }
    }

    /// Refreshes the room at once (so this instance answers with the change) and returns its view, with
    /// the settings the change adjusted (if any).
    private func roomResponse(_ name: String, status: HTTPResponse.Status, adjusted: [SettingsAdjustment] = []) async throws -> Response {
        do {
            for snapshot in try await store.tick(rooms: [name]).values { cache.merge(snapshot) }
        } catch {
            throw failures.response(for: error)
        }
        guard let entry = cache.entry(name) else { throw APIError.notFound("no such room") }
        var view = RoomView(name: name, entry: entry)
        if !adjusted.isEmpty { view.adjusted = adjusted }
        return try Responses.encode(view, status: status)
    }
}
