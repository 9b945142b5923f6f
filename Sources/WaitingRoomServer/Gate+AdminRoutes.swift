import Foundation
import Hummingbird
import NIOCore
import WaitingRoomCore
import WaitingRoomStore
import WaitingRoomTokens

/// The ops API under `/admin/v1`, every call authenticated with the admin key.
extension Gate {
    func addAdminRoutes(to router: Router<BasicRequestContext>) {
        router.get("/admin/dashboard") { _, _ in Self.html(status: .ok, self.pages.dashboard) }
        let admin = router.group("/admin/v1")
        admin.get("/rooms") { request, _ in
            try self.requireKey(request, self.configuration.adminKey)
            let rooms = self.cache.roomNames.compactMap { name in self.cache.entry(name).map { RoomView(name: name, entry: $0) } }
            return try Self.encode(RoomList(rooms: rooms))
        }
        admin.get("/rooms/:room") { request, context in
            try self.requireKey(request, self.configuration.adminKey)
            let name = try Self.roomName(context)
            guard let entry = self.cache.entry(name) else { throw APIError.notFound("no such room") }
            return try Self.encode(RoomView(name: name, entry: entry))
        }
        admin.put("/rooms/:room") { request, context in
            try self.requireKey(request, self.configuration.adminKey)
            let name = try Self.roomName(context)
            let settings = try SettingsInput.full(try await self.jsonObject(request))
            let result = try await self.writeRoom(name, settings, mode: .createOrReplace)
            return try await self.roomResponse(name, status: result == .created ? .created : .ok)
        }
        admin.patch("/rooms/:room") { request, context in
            try self.requireKey(request, self.configuration.adminKey)
            let name = try Self.roomName(context)
            let changes = try await self.jsonObject(request)
            let current: RoomSettings?
            do { current = try await self.store.settings(room: name) } catch { throw self.storeFailure(error) }
            guard let current else { throw APIError.notFound("no such room") }
            let merged = try SettingsInput.merge(changes, into: current)
            let result = try await self.writeRoom(name, merged, mode: .update)
            guard result != .untouched else { throw APIError.notFound("no such room") }
            return try await self.roomResponse(name, status: .ok)
        }
        admin.delete("/rooms/:room") { request, context in
            try self.requireKey(request, self.configuration.adminKey)
            let name = try Self.roomName(context)
            let deleted: Bool
            do { deleted = try await self.store.delete(room: name) } catch { throw self.storeFailure(error) }
            guard deleted else { throw APIError.notFound("no such room") }
            self.cache.remove(name)
            return Response(status: .noContent)
        }
        admin.post("/rooms/:room/:action") { request, context in
            try self.requireKey(request, self.configuration.adminKey)
            let name = try Self.roomName(context)
            guard let action = context.parameters.get("action").flatMap(RoomStore.StateAction.init(rawValue:)) else {
                throw APIError.notFound("unknown action: use pause, resume, close or open")
            }
            let change: RoomStore.StateChange
            do { change = try await self.store.change(room: name, action) } catch { throw self.storeFailure(error) }
            switch change {
            case .missing: throw APIError.notFound("no such room")
            case .conflict(let current): throw APIError(.conflict, "conflict", "cannot \(action.rawValue) a room that is \(current.rawValue)")
            case .changed: return try await self.roomResponse(name, status: .ok)
            }
        }
    }

    /// 401 unless the request carries `key` as a bearer token (constant-time compare). Says nothing else.
    func requireKey(_ request: Request, _ key: String?) throws(APIError) {
        guard let key, let presented = Self.bearer(request), SecretComparison.equals(presented, key) else {
            throw APIError.unauthorized("missing or wrong key")
        }
    }

    static func roomName(_ context: some RequestContext) throws(APIError) -> String {
        guard let name = context.parameters.get("room"), RoomName.isValid(name) else {
            throw APIError.badRequest("room: must be 1-64 of a-z, 0-9, - and _, starting with a letter or digit", code: "invalid_room")
        }
        return name
    }

    func jsonObject(_ request: Request) async throws -> [String: Any] {
        let body = try await self.body(request)
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] else {
            throw APIError.badRequest("body must be a JSON object", code: "malformed_json")
        }
        return object
    }

    private func writeRoom(_ name: String, _ settings: RoomSettings, mode: RoomStore.WriteMode) async throws -> RoomStore.WriteResult {
        do {
            try settings.validate()
        } catch {
            throw APIError.badRequest("\(error.field): \(error.reason)", code: "invalid_\(error.field)")
        }
        do {
            return try await store.write(room: name, settings: settings, mode: mode)
        } catch {
            throw storeFailure(error)
        }
    }

    /// Refreshes the room at once (so this instance answers with the change) and returns its view.
    private func roomResponse(_ name: String, status: HTTPResponse.Status) async throws -> Response {
        do {
            for snapshot in try await store.tick(rooms: [name]).values { cache.merge(snapshot) }
        } catch {
            throw storeFailure(error)
        }
        guard let entry = cache.entry(name) else { throw APIError.notFound("no such room") }
        var response = try Self.encode(RoomView(name: name, entry: entry))
        response.status = status
        return response
    }

    static func encode(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return json(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

/// Strict reading of room settings from admin JSON: unknown fields and wrong types are 400s naming the field.
enum SettingsInput {
    static func full(_ object: [String: Any]) throws -> RoomSettings {
        guard object["rate"] != nil else { throw APIError.badRequest("rate: required", code: "invalid_rate") }
        guard object["checkoutUrl"] != nil else { throw APIError.badRequest("checkoutUrl: required", code: "invalid_checkoutUrl") }
        return try merge(object, into: RoomSettings(rate: 0, checkoutUrl: "/"))
    }

    static func merge(_ object: [String: Any], into base: RoomSettings) throws -> RoomSettings {
        var settings = base
        for (key, value) in object {
            func required<T>(_ parse: (Any) -> T?, _ expected: String) throws -> T {
                guard let parsed = parse(value) else { throw APIError.badRequest("\(key): must be \(expected)", code: "invalid_\(key)") }
                return parsed
            }
            func nullable<T>(_ parse: (Any) -> T?, _ expected: String) throws -> T? {
                value is NSNull ? nil : try required(parse, expected + " or null")
            }
            switch key {
            case "rate": settings.rate = try required(number, "a number")
            case "capacity": settings.capacity = try nullable(integer, "an integer")
            case "claimWindowSeconds": settings.claimWindowSeconds = try required(integer, "an integer")
            case "sessionTTLSeconds": settings.sessionTTLSeconds = try required(integer, "an integer")
            case "checkoutUrl": settings.checkoutUrl = try required({ $0 as? String }, "a string")
            case "opensAt": settings.opensAt = try nullable({ ($0 as? String).flatMap { try? Date($0, strategy: .iso8601) } }, "an ISO 8601 date")
            case "rampSeconds": settings.rampSeconds = try nullable(integer, "an integer")
            case "rampStartRate": settings.rampStartRate = try nullable(number, "a number")
            default: throw APIError.badRequest("\(key): unknown field", code: "unknown_field")
            }
        }
        return settings
    }

    private static func number(_ value: Any) -> Double? {
        if type(of: value) == Bool.self { return nil }
        if let number = value as? Int { return Double(number) }
        if let number = value as? Double { return number }
        return nil
    }

    private static func integer(_ value: Any) -> Int? {
        guard let double = number(value), double.rounded() == double, abs(double) < 1e15 else { return nil }
        return Int(double)
    }
}
