import Foundation
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomServer
import WaitingRoomStore
import WaitingRoomTokens

/// Proof of work and join passes at the join route: each refusal is a clear 4xx that takes no place.
@Suite("Join protections: proof of work, join passes", .stopsGates)
struct JoinProtectionTests {
    static let secret = "join-pass-secret-of-the-shop-0123456789"

    func tail(_ gate: RunningGate, _ room: String) async throws -> String? {
        try await gate.gate.store.redis.hgetall(RoomKeys(room: room).state)["tail"]
    }

    @Test("proof of work: 428 with a challenge (no place), a solution joins once, reuse and wrong nonces are 400, live-tunable")
    func proofOfWork() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("pow")
        var hard = settings(rate: 0)
        hard.proofOfWorkBits = 8
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: hard])
        let url = gate.base + "/v1/rooms/\(room)/join"
        let before = try await tail(gate, room)

        let asked = try await HTTP.shared.call(.POST, url)
        #expect(asked.status == 428)
        #expect(asked.string("error") == "pow_required")
        #expect(asked.int("bits") == 8)
        #expect(asked.string("worker") == "/assets/pow-worker.js")
        let challenge = try #require(asked.string("challenge"))
        #expect(try await tail(gate, room) == before, "a challenge takes no place")

        // A nonce that does not solve it (one in 256 random nonces would: pick one that surely does not).
        let wrongNonce = (0...).lazy.map { "wrong-\($0)" }.first { nonce in
            ProofOfWork.leadingZeroBits(Digest.sha256(Array((challenge + ":" + nonce).utf8))) < 8
        }!
        let wrong = try await HTTP.shared.call(.POST, url, headers: [("X-Waitroom-Pow-Challenge", challenge), ("X-Waitroom-Pow-Nonce", wrongNonce)])
        #expect(wrong.status == 400)
        #expect(wrong.string("error") == "pow_invalid")
        let forged = try await HTTP.shared.call(.POST, url, headers: [("X-Waitroom-Pow-Challenge", challenge + "x"), ("X-Waitroom-Pow-Nonce", "1")])
        #expect(forged.status == 400)

        let nonce = ProofOfWork.solve(challenge, bits: 8)
        let solved = [("X-Waitroom-Pow-Challenge", challenge), ("X-Waitroom-Pow-Nonce", nonce)]
        let joined = try await HTTP.shared.call(.POST, url, headers: solved)
        #expect(joined.status == 200)
        #expect(joined.string("ticket") != nil)
        let reused = try await HTTP.shared.call(.POST, url, headers: solved)
        #expect(reused.status == 400)
        #expect(reused.string("error") == "pow_reused")
        #expect(try await tail(gate, room) == String(Int(before ?? "0")! + 1), "exactly one place for one solution")

        // Live: turning it off lets joins through without a challenge.
        let patched = try await HTTP.shared.call(.PATCH, gate.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey, body: #"{"proofOfWorkBits":0}"#)
        #expect(patched.status == 200)
        try await waitUntil(timeout: .seconds(3)) { gate.gate.cache.entry(room)?.snapshot.settings.proofOfWorkBits == 0 }
        #expect(try await HTTP.shared.call(.POST, url).status == 200)
        // Out of bounds and wrong types are refused.
        for body in [#"{"proofOfWorkBits":25}"#, #"{"proofOfWorkBits":true}"#, #"{"proofOfWorkBits":2.5}"#] {
            #expect(try await HTTP.shared.call(.PATCH, gate.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey, body: body).status == 400)
        }
    }

    @Test("join passes: required, verified with the room's secret; one place per customer; the token names the customer")
    func joinPasses() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("pass")
        var passes = settings(rate: 100)
        passes.requireJoinPass = true
        passes.joinPassSecret = Self.secret
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: passes])
        let url = gate.base + "/v1/rooms/\(room)/join"
        let key = try JoinPass.Key(secret: Self.secret)
        let now = Int64(Date().timeIntervalSince1970)
        let before = try await tail(gate, room)

        let missing = try await HTTP.shared.call(.POST, url)
        #expect(missing.status == 403)
        #expect(missing.string("error") == "join_pass_required")
        let otherKey = try JoinPass.Key(secret: String(Self.secret.reversed()))
        let refusedPasses = [
            otherKey.sign(JoinPass(room: room, sub: "alice", exp: now + 300)),  // not the shop's key
            key.sign(JoinPass(room: "elsewhere", sub: "alice", exp: now + 300)),  // another room
            key.sign(JoinPass(room: room, sub: "alice", exp: now - 120)),  // expired
            key.sign(JoinPass(room: room, sub: "alice", exp: now + 3 * 86_400)),  // lives too long
            key.sign(JoinPass(room: room, sub: "", exp: now + 300)),  // no customer
            "a.b.c", "",
        ]
        for pass in refusedPasses {
            let refused = try await HTTP.shared.call(.POST, url, headers: [("X-Waitroom-Join-Pass", pass)])
            #expect(refused.status == 403)
            #expect(["join_pass_invalid", "join_pass_required"].contains(refused.string("error") ?? ""))
        }
        #expect(try await tail(gate, room) == before, "refused passes take no place")

        // Alice on her phone and on her laptop: one place, one ticket id.
        let alicePass = key.sign(JoinPass(room: room, sub: "alice@example.com", exp: now + 300))
        let phone = try await HTTP.shared.call(.POST, url, headers: [("X-Waitroom-Join-Pass", alicePass)])
        #expect(phone.status == 200)
        let laptop = try await HTTP.shared.call(.POST, url, body: #"{"pass":"\#(alicePass)"}"#)
        #expect(laptop.status == 200)
        let phoneTicket = try #require(phone.string("ticket"))
        let laptopTicket = try #require(laptop.string("ticket"))
        let parse = { (text: String) in QueueTicket(payload: String(text[..<text.lastIndex(of: ".")!])) }
        #expect(parse(phoneTicket)?.seq == parse(laptopTicket)?.seq)
        #expect(parse(phoneTicket)?.id == parse(laptopTicket)?.id)
        // Bob gets the next place.
        let bob = try await HTTP.shared.call(.POST, url, headers: [("X-Waitroom-Join-Pass", key.sign(JoinPass(room: room, sub: "bob", exp: now + 300)))])
        #expect(parse(try #require(bob.string("ticket")))?.seq == (parse(phoneTicket)?.seq ?? 0) + 1)

        // The admission token names Alice, and both devices get the same admission.
        var token: String?
        try await waitUntil(timeout: .seconds(3)) {
            token = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: phoneTicket).string("token")
            return token != nil
        }
        let laptopToken = try await HTTP.shared.call(.GET, gate.base + "/v1/rooms/\(room)/status", bearer: laptopTicket).string("token")
        let verified = try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/verify", bearer: RunningGate.serviceKey, body: #"{"token":"\#(token!)"}"#)
        #expect(verified.string("sub") == "alice@example.com")
        #expect(verified.string("tid") == parse(phoneTicket)?.id)
        let laptopVerified = try await HTTP.shared.call(.POST, gate.base + "/v1/admissions/verify", bearer: RunningGate.serviceKey, body: #"{"token":"\#(laptopToken ?? "")"}"#)
        #expect(laptopVerified.string("jti") == verified.string("jti"))

        // The secret never shows in the room view; requireJoinPass without a secret is refused.
        let view = try await HTTP.shared.call(.GET, gate.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey)
        #expect(!view.body.contains(Self.secret))
        #expect(view.body.contains(#""joinPassSecret":"(set)""#))
        #expect(view.body.contains(#""requireJoinPass":true"#))
        let noSecret = try await HTTP.shared.call(
            .PUT, gate.base + "/admin/v1/rooms/\(uniqueRoom("nosecret"))", bearer: RunningGate.adminKey,
            body: #"{"rate":1,"checkoutUrl":"/checkout","requireJoinPass":true}"#
        )
        #expect(noSecret.status == 400)
        #expect(noSecret.body.contains("joinPassSecret"))
        for body in [#"{"requireJoinPass":"yes"}"#, #"{"joinPassSecret":"short"}"#, #"{"joinPassSecret":"(set)"}"#] {
            #expect(try await HTTP.shared.call(.PATCH, gate.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey, body: body).status == 400)
        }
    }
}
