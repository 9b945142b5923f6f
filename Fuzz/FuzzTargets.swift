// libFuzzer entry point for WaitingRoom's parsers, built by scripts/fuzz.sh with `swiftc -sanitize=fuzzer`
// from the modules' own sources (no Hummingbird): FUZZ_TARGET picks the target.
//
//   ticket    QueueTicket(payload:) on raw input, and TicketSigner.open on it as a whole ticket
//   jwt       JSONWebToken.parse and VerificationKeySet.verify (EdDSA admission tokens), JoinPass (HS256 passes)
//   settings  the admin API's strict settings decoder (RoomSettings(json:) / merging(json:)), then validate()
//
// A crash, a sanitizer report or a failed property (`check`) is a finding.
import Foundation
import WaitingRoomCore

enum FuzzTarget: String {
    case ticket, jwt, settings
}

let target = FuzzTarget(rawValue: ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? "") ?? {
    fatalError("set FUZZ_TARGET to ticket, jwt or settings")
}()

let signer = try! TicketSigner(secret: Array("fuzzing-ticket-secret-0123456789".utf8))
let signingKeys = try! SigningKeySet(keys: [Ed25519PrivateKey(seed: [UInt8](repeating: 7, count: 32))])
let fuzzNow = Date(timeIntervalSince1970: 1_800_000_000)
let passKey = try! JoinPass.Key(secret: "fuzzing-join-pass-secret-0123456789")

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("property failed: \(message())") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    switch target {
    case .ticket: fuzzTicket(text)
    case .jwt: fuzzJWT(text)
    case .settings: fuzzSettings(bytes)
    }
    return 0
}

func fuzzTicket(_ text: String) {
    // The parser alone (it only ever sees MAC-checked payloads, but must not trust that).
    if let ticket = QueueTicket(payload: text) {
        check(QueueTicket(payload: ticket.payload) == ticket, "payload round trip: \(text)")
        check(RoomName.isValid(ticket.room) && ticket.seq > 0, "parsed an invalid ticket: \(text)")
    }
    // The MAC check on arbitrary input: only signed payloads open, and they open to themselves.
    if let payload = try? signer.open(text) {
        check(signer.sign(String(payload)) == text, "opened a ticket we did not sign: \(text)")
    }
    // Signing then opening any payload (without dots in the MAC part) returns it.
    if text.utf8.count < 400 {
        check((try? signer.open(signer.sign(text))).map(String.init) == text, "sign/open round trip: \(text)")
    }
}

func fuzzJWT(_ text: String) {
    _ = try? JSONWebToken.parse(text)
    if let claims = try? signingKeys.verify(text, as: AdmissionClaims.self, now: fuzzNow, leeway: 5) {
        // Only a token signed with our key verifies; re-signing its claims must verify too.
        let again = signingKeys.sign(claims)
        check((try? signingKeys.verify(again, as: AdmissionClaims.self, now: fuzzNow, leeway: 5)) == claims, "claims round trip")
    }
    // Join passes: only passes signed with the key verify, and their claims survive re-signing.
    if let pass = try? passKey.verify(text, room: "drop", nowSeconds: 1_800_000_000) {
        check(pass.room == "drop" && !pass.sub.isEmpty && pass.sub.utf8.count <= JoinPass.maximumSubjectBytes, "accepted a bad pass: \(text)")
        check((try? passKey.verify(passKey.sign(pass), room: "drop", nowSeconds: 1_800_000_000)) == pass, "pass round trip")
        check(JoinPass.subject(ticketID: JoinPass.ticketID(sub: pass.sub)) == pass.sub, "ticket id round trip")
    }
}

func fuzzSettings(_ bytes: [UInt8]) {
    guard let object = try? JSONDecoder().decode([String: JSONValue].self, from: Data(bytes)) else { return }
    let base = RoomSettings(rate: 10, capacity: 5, claimWindowSeconds: 60, sessionTTLSeconds: 600, checkoutUrl: "https://shop.example/c")
    if let full = try? RoomSettings(json: object, now: fuzzNow) {
        check(object["rate"] != nil && object["checkoutUrl"] != nil, "full settings without required fields")
        guard (try? full.validate()) != nil else { return }
        // Valid settings read back as themselves from what the view shows and from what Redis stores.
        check((try? RoomSettings(json: full.json, now: fuzzNow)) == full, "JSON round trip")
        check(RoomSettings(storedFields: Dictionary(uniqueKeysWithValues: full.storedFields)) == full, "Redis fields round trip")
    }
    if let merged = try? base.merging(json: object, now: fuzzNow) {
        _ = try? merged.validate()
        if object["rate"] == nil { check(merged.rate == base.rate, "merge changed a field it was not given") }
        if object["checkoutUrl"] == nil { check(merged.checkoutUrl == base.checkoutUrl, "merge changed checkoutUrl") }
    } else {
        check(!object.isEmpty, "an empty object must merge")
    }
}
