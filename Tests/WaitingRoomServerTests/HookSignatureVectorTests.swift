#if DEBUG
import Foundation
import Testing
import WaitingRoomCore
@testable import WaitingRoomStore
@testable import WaitingRoomServer

/// The example receiver's CI vector (`make prescale-check`): the gate's own signing function signs the sample
/// payload to exactly the header the Python test checks, and the recommendation is spliced into a signal's data.
@Suite("Hook signature vector and pre-scale body")
struct HookSignatureVectorTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/prescale").standardized

    @Test("the gate signs the receiver's sample payload to the header in scripts/prescale/sample-hook.sig")
    func sampleSignature() throws {
        let body = try String(contentsOf: Self.folder.appendingPathComponent("sample-hook.json"), encoding: .utf8)
        let header = try String(contentsOf: Self.folder.appendingPathComponent("sample-hook.sig"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(HookDispatcher.signature(secret: "hook-secret-0123456789", body: body, unixSeconds: 1_764_716_400) == header)
        #expect(body.contains(#""type":"room.prescale""#) && body.contains(#""recommendation":{"#))
    }

    @Test("a pre-scale signal's body gains its recommendation; other events are delivered as recorded")
    func splice() throws {
        let data = #"{"opensAt":1800000000000,"leadSeconds":300,"waiting":1200,"growthPerSecond":4,"rate":200,"rampSeconds":0,"claimWindowSeconds":60,"sessionTTLSeconds":900,"previousPrequeue":-1,"previousArrivals2m":-1}"#
        let event = RoomStore.StoredEvent(id: "1-0", type: "room.prescale", atMs: 1_800_000_000_000 - 300_000, data: data)
        let body = HookDispatcher.body(room: "drop", event)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        let spliced = try #require(json["data"] as? [String: Any])
        #expect(spliced["waiting"] as? Int == 1200)
        let recommendation = try #require(spliced["recommendation"] as? [String: Any])
        #expect(recommendation["shoppersPrequeued"] as? Int == 2400, "1,200 plus 4/s for 300 s")
        #expect(HookDispatcher.body(room: "drop", event) == body, "the same body on every attempt")
        let paused = RoomStore.StoredEvent(id: "2-0", type: "room.paused", atMs: 1, data: #"{"state":"paused","by":"key:x"}"#)
        #expect(HookDispatcher.body(room: "drop", paused).hasSuffix(#""data":{"state":"paused","by":"key:x"}}"#))
    }
}
#endif
