import Foundation
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomServer
import WaitingRoomTokens

/// Gate + the example order service (its real binary) + a real Redis.
@Suite("End to end: gate, example order service, Redis", .serialized, .stopsGates)
struct OrderServiceEndToEndTests {
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    func startOrderService(gate: RunningGate, room: String) async throws -> (Process, String) {
        let binary = Self.packageRoot.appendingPathComponent(".build/debug/example-order-service")
        let port = try freePort()
        let process = Process()
        process.executableURL = binary
        process.environment = [
            "WAITROOM_URL": gate.base, "WAITROOM_SERVICE_KEY": RunningGate.serviceKey, "ORDER_SERVICE_PORT": String(port),
            "ORDER_SERVICE_ROOM": room, "PATH": "/usr/bin:/bin",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let base = "http://127.0.0.1:\(port)"
        try await waitUntil(timeout: .seconds(15)) { (try? await HTTP.shared.call(.GET, base + "/healthz").status) == 200 }
        return (process, base)
    }

    func admit(_ gate: RunningGate, room: String) async throws -> (ticket: String, token: String) {
        let ticket = try #require(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join").string("ticket"))
        var token: String?
        try await waitUntil(timeout: .seconds(5)) {
            token = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: ticket).string("token")
            return token != nil
        }
        return (ticket, token!)
    }

    @Test("join, admit, check out (200), replay (409), forged/expired/other-room, release admits the next, rotation, PyJWT")
    func checkoutFlow() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("e2e")
        let otherRoom = uniqueRoom("e2e-other")
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: settings(rate: 50, capacity: 1), otherRoom: settings(rate: 50)])
        // A second instance mid-rotation: a new key signs, the old one is still published.
        let newKeyFile = FileManager.default.temporaryDirectory.appendingPathComponent("rotated-\(UUID().uuidString).pem").path
        try Ed25519PrivateKey().pem().write(toFile: newKeyFile, atomically: true, encoding: .utf8)
        let rotated = try await RunningGate.start(redisURL: server.url) { $0.signingKeyFiles = [newKeyFile, RunningGate.keyFile] }
        let (orderService, orders) = try await startOrderService(gate: rotated, room: room)
        defer { orderService.terminate() }

        let first = try await admit(gate, room: room)
        let next = try #require(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join").string("ticket"))
        #expect(try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: next).string("state") == "waiting")

        // The old-key token verifies at an order service that reads the rotated instance's JWKS.
        let page = try await HTTP.shared.call(.GET, orders + "/checkout?wr_token=\(first.token)")
        #expect(page.status == 200)
        #expect(page.body.contains("Place order"))
        let order = try await HTTP.shared.call(.POST, orders + "/checkout/order", bearer: first.token)
        #expect(order.status == 200, "\(order.body)")
        #expect(order.string("order") == "placed")
        #expect(try await HTTP.shared.call(.POST, orders + "/checkout/order", bearer: first.token).status == 409)

        // The order released the slot: the next shopper is admitted at once (capacity 1).
        try await waitUntil(timeout: .seconds(2)) {
            try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: next).string("state") == "admitted"
        }

        // Forged, expired and other-room tokens.
        var forged = Array(first.token.utf8)
        forged[forged.count - 10] = forged[forged.count - 10] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(try await HTTP.shared.call(.POST, orders + "/checkout/order", bearer: String(decoding: forged, as: UTF8.self)).status == 401)
        #expect(try await HTTP.shared.call(.GET, orders + "/checkout").status == 401)
        let oldKey = try SigningKeySet(keys: [Ed25519PrivateKey(pemFile: RunningGate.keyFile)])
        let now = Int64(Date().timeIntervalSince1970)
        let expired = oldKey.sign(AdmissionClaims(iss: "waitroom", aud: room, sub: "s", jti: "old", iat: now - 7_200, nbf: now - 7_200, exp: now - 3_600, seq: 1))
        #expect(try await HTTP.shared.call(.GET, orders + "/checkout", bearer: expired).status == 403)
        let elsewhere = try await admit(gate, room: otherRoom)
        #expect(try await HTTP.shared.call(.GET, orders + "/checkout", bearer: elsewhere.token).status == 403)

        // New tokens from the rotated instance carry the new kid, and verify too.
        let viaRotated = try await admit(rotated, room: otherRoom)
        let kid = try JSONWebToken.parse(viaRotated.token).header.kid
        #expect(kid == (try Ed25519PrivateKey(pemFile: newKeyFile)).publicKey.keyID)
        let jwks = try await HTTP.shared.call(.GET, rotated.base + "/.well-known/jwks.json")
        #expect((jwks.json["keys"] as? [Any])?.count == 2)

        // Other people's code: PyJWT fetches the JWKS endpoint and verifies the gate's token.
        #expect(try pyjwt(jwksURL: gate.base + "/.well-known/jwks.json", token: elsewhere.token, audience: otherRoom) == "ok")
        #expect(try pyjwt(jwksURL: gate.base + "/.well-known/jwks.json", token: String(decoding: forged, as: UTF8.self), audience: room).hasPrefix("refused"))
    }

    func pyjwt(jwksURL: String, token: String, audience: String) throws -> String {
        let script = """
            import sys, jwt
            try:
                key = jwt.PyJWKClient(sys.argv[1]).get_signing_key_from_jwt(sys.argv[2])
                jwt.decode(sys.argv[2], key.key, algorithms=["EdDSA"], audience=sys.argv[3], issuer="waitroom")
                print("ok")
            except Exception as error:
                print("refused", type(error).__name__)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, jwksURL, token, audience]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
