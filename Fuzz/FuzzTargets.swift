// libFuzzer entry point for WaitingRoom's parsers, built by scripts/fuzz.sh with `swiftc -sanitize=fuzzer`
// from the modules' own sources (no Hummingbird): FUZZ_TARGET picks the target.
//
//   ticket    QueueTicket(payload:) on raw input, and TicketSigner.open on it as a whole ticket
//   jwt       JSONWebToken.parse and VerificationKeySet.verify (EdDSA admission tokens), JoinPass (HS256 passes)
//   settings  the admin API's strict settings decoder (RoomSettings(json:) / merging(json:)), then validate()
//   admission the admission model under settings that reach the scripts (rates, windows, TTLs, ramps, capacity),
//             from the accepted range only, and any sequence of joins, ticks, claims, clock jumps and rate
//             changes: no ticket admitted twice, the entry schedule and every admission time stays a value
//             Redis can store and read back, and a rate change the API accepts always validates
//
// A crash, a sanitizer report or a failed property (`check`) is a finding.
import Foundation
import WaitingRoomCore

enum FuzzTarget: String {
    case ticket, jwt, settings, admission
}

let target = FuzzTarget(rawValue: ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? "") ?? {
    fatalError("set FUZZ_TARGET to ticket, jwt, settings or admission")
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
    case .admission: fuzzAdmission(bytes)
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

/// The fuzz input read as a program: bytes pick settings and operations (0 once the input runs out).
struct ByteReader {
    let bytes: [UInt8]
    var index = 0
    var atEnd: Bool { index >= bytes.count }
    mutating func byte() -> UInt8 {
        defer { index += 1 }
        return index < bytes.count ? bytes[index] : 0
    }
    mutating func word() -> Int { Int(byte()) << 8 | Int(byte()) }
    mutating func pick<T>(_ values: [T]) -> T { values[Int(byte()) % values.count] }

    /// A rate from the edges of the accepted range or anywhere near it (some just outside: they must be refused).
    mutating func rate() -> Double {
        let anywhere = pow(10, Double(word()) / 65_535 * 10 - 3.5)
        return pick([0, AdmissionModel.minimumRate, 1_000_000, 1e-17, 0.000_999, anywhere])
    }

    mutating func seconds() -> Int {
        let anywhere = 1 + word() % 86_400
        return pick([1, 2, 5, 60, 3_600, 86_400, anywhere])
    }
}

func fuzzAdmission(_ bytes: [UInt8]) {
    var input = ByteReader(bytes: bytes)
    var settings = RoomSettings(rate: input.rate(), checkoutUrl: "/checkout")
    settings.claimWindowSeconds = input.seconds()
    settings.sessionTTLSeconds = input.seconds()
    let someCapacity = 1 + input.word()
    settings.capacity = input.pick([nil, 0, 1, 5, someCapacity, 100_000_000])
    if input.byte() % 2 == 0 {
        let someRamp = input.word() % 86_401
        settings.rampSeconds = input.pick([0, 1, 30, 86_400, someRamp])
        let someStart = input.rate()
        settings.rampStartRate = input.pick([nil, 0, AdmissionModel.minimumRate, settings.rate / 2, someStart])
    }
    settings = settings.reconciled(given: settings.rampStartRate == nil ? [] : ["rampStartRate"]).settings
    // A rate the model carries: 0 (held) or from the minimum up to the maximum.
    func carried(_ rate: Double) -> Bool { rate == 0 || (AdmissionModel.minimumRate...1_000_000).contains(rate) }
    guard (try? settings.validate()) != nil else {
        check(!carried(settings.rate) || (settings.rampStartRate ?? 0) > settings.rate || settings.rampStartRate.map(carried) == false,
            "refused settings the model carries: \(settings)")
        return
    }
    check(carried(settings.rate) && settings.rampStartRate.map(carried) != false, "accepted a rate the model cannot carry: \(settings)")

    var now: Int64 = 1_800_000_000_000
    var state = AdmissionState(state: .open, nowMs: now)
    var admittedAs: [Int: String] = [:]
    var jtis = 0
    while !input.atEnd {
        switch input.byte() % 8 {
        case 0: now += Int64(input.word())
        case 1: now += Int64(input.word()) * 1_000  // past sessions and claim windows
        case 2: state.tail += Int64(1 + input.byte() % 64)
        case 3, 4: state = AdmissionModel.tick(state, settings: settings, nowMs: now).state
        case 5, 6:
            let ticket = Int(input.byte() % 32)
            jtis += 1
            let claim = AdmissionModel.claim(state, settings: settings, ticketID: "t\(ticket)", position: Int64(ticket + 1), jti: "j\(jtis)", nowMs: now)
            state = claim.state
            if case .admitted(let admission) = claim.outcome {
                check(admittedAs[ticket, default: admission.jti] == admission.jti, "ticket \(ticket) admitted twice")
                admittedAs[ticket] = admission.jti
                check(Double(admission.entersAtMs) <= Double(now) + AdmissionModel.entryHorizonMs, "entry beyond the horizon: \(admission)")
                check(admission.expiresAtMs < 1 << 53 && admission.expiresAtMs > admission.entersAtMs, "admission times: \(admission)")
            }
        default:
            // A rate change as the admin API makes it: what no longer fits is adjusted, and it validates.
            var changed = settings
            changed.rate = input.rate()
            let reconciled = changed.reconciled(given: ["rate"]).settings
            if (try? reconciled.validate()) == nil {
                check(!carried(changed.rate), "a rate the model carries refused: \(changed.rate) with \(settings)")
                continue
            }
            state = AdmissionModel.settingsChanged(state, from: settings, to: reconciled, nowMs: now)
            settings = reconciled
        }
        check(state.entryTatMs.isFinite && state.entryTatMs <= Double(now) + AdmissionModel.entryHorizonMs, "entry schedule \(state.entryTatMs) at \(now)")
        check(Stored.round(state.entryTatMs, decimals: 3) == state.entryTatMs, "entry schedule not stored as read back: \(state.entryTatMs)")
        check(state.bucket.isFinite && state.offersLive >= 0 && state.head <= state.tail, "state: \(state)")
    }
}
