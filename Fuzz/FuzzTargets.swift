// libFuzzer entry point for WaitingRoom's parsers, built by scripts/fuzz.sh with `swiftc -sanitize=fuzzer`
// from the modules' own sources (no Hummingbird): FUZZ_TARGET picks the target.
//
//   ticket    QueueTicket(payload:) on raw input, and TicketSigner.open on it as a whole ticket
//   jwt       JSONWebToken.parse and VerificationKeySet.verify (EdDSA admission tokens)
//   settings  the admin API's JSON settings decoder (SettingsInput.full / .merge), then settings.validate()
//
// A crash, a sanitizer report or a failed property (`check`) is a finding. To retarget the settings
// decoder when it moves, change SETTINGS_SOURCES in scripts/fuzz.sh and `fuzzSettings` below.
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
}

func fuzzSettings(_ bytes: [UInt8]) {
    guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) as? [String: Any] else { return }
    let base = RoomSettings(rate: 10, capacity: 5, claimWindowSeconds: 60, sessionTTLSeconds: 600, checkoutUrl: "https://shop.example/c")
    if let full = try? SettingsInput.full(object) {
        _ = try? full.validate()
        check(object["rate"] != nil && object["checkoutUrl"] != nil, "full settings without required fields")
    }
    if let merged = try? SettingsInput.merge(object, into: base) {
        _ = try? merged.validate()
        if object["rate"] == nil { check(merged.rate == base.rate, "merge changed a field it was not given") }
        if object["checkoutUrl"] == nil { check(merged.checkoutUrl == base.checkoutUrl, "merge changed checkoutUrl") }
    } else {
        check(!object.isEmpty, "an empty object must merge")
    }
}

/// Seeds the corpus (directory in FUZZ_CORPUS) with valid inputs, so mutations start from the real shapes.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    guard let directory = ProcessInfo.processInfo.environment["FUZZ_CORPUS"] else { return 0 }
    let seeds: [String]
    switch target {
    case .ticket:
        let ticket = QueueTicket(room: "drop", epoch: "k9", seq: 42, issuedAtMs: 1_800_000_000_000, id: "abcDEF_-123")
        seeds = [signer.sign(ticket.payload), ticket.payload, "v1.a.b.1.2.c"]
    case .jwt:
        let claims = AdmissionClaims(iss: "waitroom", aud: "drop", sub: "t", jti: "j", iat: 1_800_000_000, nbf: 1_800_000_000, exp: 1_800_000_600, seq: 7)
        seeds = [signingKeys.sign(claims), "eyJhbGciOiJub25lIn0.e30."]
    case .settings:
        seeds = [
            #"{"rate":25,"checkoutUrl":"https://shop.example/checkout","capacity":200,"claimWindowSeconds":60}"#,
            #"{"opensAt":"2026-12-01T15:00:00Z","rampSeconds":60,"rampStartRate":10,"sessionTTLSeconds":900}"#,
            #"{"capacity":null,"rate":1e308,"checkoutUrl":"/\\evil"}"#,
        ]
    }
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for (index, seed) in seeds.enumerated() {
        let path = directory + "/seed-\(index)"
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: Data(seed.utf8)) }
    }
    return 0
}
