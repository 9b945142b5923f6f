import Foundation
import HTTPTypes
import Hummingbird
import RedisClient
import TestSupport
import Testing
import WaitingRoomCore
import WaitingRoomServer
import WaitingRoomStore
import WaitingRoomTokens

@Suite("A draw anyone can check, and pre-scale hooks", .serialized, .stopsGates)
struct LotteryDrawTests {
    @Test("the key is sealed when the room gets an opening time, shown nowhere before opening, revealed at it; moving the time keeps it; places follow it")
    func commitReveal() async throws {
        let server = try await TestRedisServer.shared()
        let room = uniqueRoom("draw")
        var drop = settings(rate: 0)
        drop.opensAt = Date().addingTimeInterval(3_600)
        drop.lotteryBeaconSource = "drand quicknet: the first round after opening time"
        let logs = LogCapture()
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: drop], logs: logs, logLevel: .trace) { $0.logEvents = true }
        let redis = gate.gate.store.redis
        let keys = RoomKeys(room: room)
        let secret = try #require(try await redis.execute(["GET", RedisArgument(keys.lotterySecret)]).string)
        try await waitUntil(timeout: .seconds(5)) { gate.gate.cache.entry(room)?.snapshot.lotteryCommitment != nil }
        let commitment = try #require(gate.gate.cache.entry(room)?.snapshot.lotteryCommitment)
        #expect(LotterySeal.opens(commitment, with: secret), "the commitment is SHA-256 of the sealed key's text")
        #expect(gate.gate.cache.entry(room)?.snapshot.lotteryKey == nil)

        let admin = RunningGate.adminKey
        let base = gate.base
        var tickets: [String] = []
        for _ in 0..<40 {
            tickets.append(try #require(try await HTTP.shared.call(.POST, base + "/v1/rooms/\(room)/join").string("ticket")))
        }
        // Joins have started: moving the opening time keeps the sealed draw (see README: nobody gets a re-roll).
        #expect(try await HTTP.shared.call(.PATCH, base + "/admin/v1/rooms/\(room)", bearer: admin, body: #"{"opensAt": "+7200"}"#).status == 200)
        #expect(try await redis.execute(["GET", RedisArgument(keys.lotterySecret)]).string == secret)
        #expect(try await redis.hgetall(keys.state)["lotteryCommitment"] == commitment)
        // The beacon ops named, typed in before opening; a bad one is refused.
        #expect(try await HTTP.shared.call(.PATCH, base + "/admin/v1/rooms/\(room)", bearer: admin, body: #"{"lotteryBeacon": "naïve"}"#).status == 400)
        #expect(try await HTTP.shared.call(.PATCH, base + "/admin/v1/rooms/\(room)", bearer: admin, body: #"{"lotteryBeacon": "round-4242:9a8b7c"}"#).status == 200)
        try await waitUntil(timeout: .seconds(5)) { gate.gate.cache.entry(room)?.snapshot.settings.lotteryBeacon != nil }

        // Everything the gate shows or records before opening: API answers, events, report, metrics, logs, the room hash.
        var seen: [String] = []
        let view = try await HTTP.shared.call(.GET, base + "/admin/v1/rooms/\(room)", bearer: admin)
        #expect(view.body.contains(commitment))
        let lottery = try #require(view.json["lottery"] as? [String: Any])
        #expect(lottery["commitment"] as? String == commitment)
        #expect(lottery["key"] == nil || lottery["key"] is NSNull)
        seen.append(view.body)
        seen.append(try await HTTP.shared.call(.GET, base + "/admin/v1/rooms", bearer: admin).body)
        seen.append(try await HTTP.shared.call(.GET, base + "/admin/v1/rooms/\(room)/report", bearer: admin).body)
        seen.append(try await HTTP.shared.call(.GET, base + "/admin/v1/rooms/\(room)/report.csv", bearer: admin).body)
        seen.append(try await HTTP.shared.call(.GET, base + "/metrics").body)
        seen.append(try await HTTP.shared.call(.GET, base + "/wait/\(room)").body)
        for ticket in tickets.prefix(5) {
            seen.append(try await HTTP.shared.call(.GET, base + "/v1/rooms/\(room)/status", bearer: ticket).body)
        }
        seen.append(Self.text(try await redis.execute(["XRANGE", RedisArgument(keys.events), "-", "+"])))
        #expect(seen.last?.contains("round-4242:9a8b7c") == true, "the scan reads the events' text")
        seen.append(try await redis.hgetall(keys.state).map { "\($0.key)=\($0.value)" }.joined(separator: "\n"))
        try await waitUntil(timeout: .seconds(5)) { logs.all.contains { $0.contains("room event") } }
        seen += logs.all
        for text in seen { #expect(!text.contains(secret), "the sealed key leaked before opening: \(text.prefix(300))") }
        let early = try await CLITests.waitroom(["room", "lottery", room, "--verify"], url: base)
        #expect(early.status == 1 && early.stdout.contains("sealed until opening") && early.stdout.contains(commitment), "\(early)")
        #expect(!early.stdout.contains(secret))

        // Opening reveals the key and freezes the beacon; the places are the permutation of the draw key.
        #expect(try await HTTP.shared.call(.POST, base + "/admin/v1/rooms/\(room)/open", bearer: admin).status == 200)
        try await waitUntil(timeout: .seconds(6)) { gate.gate.cache.entry(room)?.snapshot.lotteryKey != nil }
        let opened = try #require(gate.gate.cache.entry(room)?.snapshot)
        #expect(opened.lotteryKey == secret)
        #expect(opened.lotteryCommitment == commitment)
        #expect(opened.lotteryBeacon == "round-4242:9a8b7c")
        let drawKey = LotterySeal.drawKey(key: secret, beacon: "round-4242:9a8b7c")
        #expect(opened.lotteryDrawKey == drawKey)
        #expect(try await redis.execute(["EXISTS", RedisArgument(keys.lotterySecret)]).int == 0, "the secret copy is gone once revealed")
        let permutation = try #require(LotteryPermutation(size: 40, key: drawKey))
        for (index, ticket) in tickets.enumerated() {
            let reply = try await HTTP.shared.call(.GET, base + "/v1/rooms/\(room)/status", bearer: ticket)
            #expect(reply.int("position") == Int(permutation.permute(UInt64(index))), "pre-queue number \(index + 1)")
        }
        let revealed = try await HTTP.shared.call(.GET, base + "/admin/v1/rooms/\(room)", bearer: admin)
        let shown = try #require(revealed.json["lottery"] as? [String: Any])
        #expect(shown["key"] as? String == secret)
        #expect(shown["beacon"] as? String == "round-4242:9a8b7c")
        #expect(shown["prequeue"] as? Int == 40)
        #expect(shown["firstPlaces"] as? [Int] == (0..<10).map { Int(permutation.permute(UInt64($0))) + 1 })
        let openedEvent = Self.text(try await redis.execute(["XRANGE", RedisArgument(keys.events), "-", "+"]))
        #expect(openedEvent.contains(secret), "room.opened carries the revealed key")

        // A beacon typed in after opening moves nobody.
        #expect(try await HTTP.shared.call(.PATCH, base + "/admin/v1/rooms/\(room)", bearer: admin, body: #"{"lotteryBeacon": "too-late"}"#).status == 200)
        try await waitUntil(timeout: .seconds(5)) { gate.gate.cache.entry(room)?.snapshot.settings.lotteryBeacon == "too-late" }
        #expect(gate.gate.cache.entry(room)?.snapshot.lotteryDrawKey == drawKey)
        #expect(try await HTTP.shared.call(.GET, base + "/v1/rooms/\(room)/status", bearer: tickets[0]).int("position") == Int(permutation.permute(0)))

        // The CLI recomputes every place and checks the commitment: it passes, and fails on a forged commitment.
        let verified = try await CLITests.waitroom(["room", "lottery", room, "--verify"], url: base)
        #expect(verified.status == 0 && verified.stdout.contains("VERIFIED") && !verified.stdout.contains("FAIL"), "\(verified)")
        let forged = String(repeating: "0", count: 64)
        _ = try await redis.execute(["HSET", RedisArgument(keys.state), "lotteryCommitment", RedisArgument(forged)])
        try await waitUntil(timeout: .seconds(5)) { gate.gate.cache.entry(room)?.snapshot.lotteryCommitment == forged }
        let refused = try await CLITests.waitroom(["room", "lottery", room, "--verify"], url: base)
        #expect(refused.status == 1 && refused.stdout.contains("FAIL: sha256(key)") && refused.stdout.contains("NOT VERIFIED"), "\(refused)")
        let plan = try await CLITests.waitroom(["plan", "--shoppers", "100000", "--window", "120", "--cached"], url: base)
        #expect(plan.status == 0 && plan.stdout.contains("gate cores, cached") && !plan.stdout.contains("no cache"), "\(plan)")
        await gate.stop()
    }

    /// Every string in a reply (a stream's entries), one per line.
    static func text(_ reply: RedisReply) -> String {
        if let items = reply.array { return items.map(text).joined(separator: "\n") }
        return reply.string ?? ""
    }

    @Test("a real scheduled drop: room.prescale and room.opening_soon carry the recommendation, signed like every hook")
    func prescaleHook() async throws {
        let server = try await TestRedisServer.shared()
        let received = Locked<[HookDeliveryTests.Received]>([])
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 16))
            received.withLock {
                $0.append(HookDeliveryTests.Received(
                    eventID: request.headers[HTTPField.Name("Waitroom-Event-Id")!] ?? "",
                    signature: request.headers[HTTPField.Name("Waitroom-Signature")!] ?? "", body: body, answered: 200
                ))
            }
            return Response(status: .noContent)
        }
        let port = try freePort()
        let receiver = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        let receiving = Task { try await receiver.runService() }
        defer { receiving.cancel() }

        let room = uniqueRoom("prescale")
        var drop = settings(rate: 250)
        drop.opensAt = Date().addingTimeInterval(1_800)
        drop.rampSeconds = 60
        let gate = try await RunningGate.start(redisURL: server.url, rooms: [room: drop])
        try await waitUntil(timeout: .seconds(10)) { (try? await HTTP.shared.call(.GET, "http://127.0.0.1:\(port)/nope").status) == 404 }
        for _ in 0..<25 { #expect(try await HTTP.shared.call(.POST, gate.base + "/v1/rooms/\(room)/join").status == 200) }
        // The hook asks for a signal an hour ahead: the opening is 30 minutes off, so the next tick sends it.
        let secret = "hook-secret-0123456789"
        let hooks = #"{"hooks":[{"url":"http://127.0.0.1:\#(port)/hook","events":["room.prescale","room.opening_soon"],"secret":"\#(secret)","leads":[3600,60]}]}"#
        #expect(try await HTTP.shared.call(.PATCH, gate.base + "/admin/v1/rooms/\(room)", bearer: RunningGate.adminKey, body: hooks).status == 200)
        try await waitUntil(timeout: .seconds(15)) { Set(received.withLock { $0.map { $0.body.contains("room.prescale") } }).contains(true) && received.withLock { $0.count } >= 2 }

        let all = received.withLock { $0 }
        let prescale = try #require(all.first { $0.body.contains(#""type":"room.prescale""#) })
        #expect(all.contains { $0.body.contains(#""type":"room.opening_soon""#) })
        #expect(all.allSatisfy { $0.isSigned(with: secret) })
        let body = try #require(try JSONSerialization.jsonObject(with: Data(prescale.body.utf8)) as? [String: Any])
        let data = try #require(body["data"] as? [String: Any])
        #expect(data["leadSeconds"] as? Int == 3600)
        #expect(data["waiting"] as? Int == 25)
        let recommendation = try #require(data["recommendation"] as? [String: Any])
        #expect(recommendation["shoppersPrequeued"] as? Int ?? 0 >= 25, "the pre-queue projected to opening at its growth")
        #expect(recommendation["arrivalsSource"] as? String == "pre-queue growth")
        // 25 shoppers cannot be admitted at 250/s: the pre-queue comes back within a board read (2 s) at opening.
        #expect(recommendation["checkoutAdmissionsPerSecond"] as? Double == 12.5)
        #expect(recommendation["checkoutRampSeconds"] as? Int == 60)
        #expect(recommendation["gateInstances"] as? Int ?? 0 >= 2)
        #expect((recommendation["originRequestsPerSecondCached"] as? Int ?? .max) <= (recommendation["originRequestsPerSecond"] as? Int ?? 0))
        for field in ["expectedArrivalsFirstTwoMinutes", "redisOpsPerSecond", "redisMemoryMB", "redisCores", "gateCores", "gateCoresCached"] {
            #expect(recommendation[field] != nil, "\(field)")
        }
        // Kept for the report and the receiver's sample (scripts/prescale/sample-hook.json is one of these).
        let out = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/prescale-hook.json").standardized
        try? prescale.body.write(to: out, atomically: true, encoding: .utf8)
        print("prescale hook payload: \(prescale.body)")
        await gate.stop()
    }
}
