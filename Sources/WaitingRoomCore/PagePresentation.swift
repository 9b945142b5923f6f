import Foundation

/// Rules for the waiting page's presentation settings (``RoomSettings/displayName`` and its siblings) and
/// for choosing the page's language. Pure functions: the settings schema validates with them, the page
/// renderer uses them.
public enum PagePresentation {
    /// The languages the page is translated into; the first is the fallback.
    public static let languages = ["en", "es", "fr", "de", "ja"]

    // MARK: Validation (a reason when refused, nil when accepted)

    /// Text shown on the page: not empty, at most `maxLength` characters, no control characters except
    /// line breaks. It is always escaped where shown; this only keeps it sane.
    public static func plainText(_ text: String, maxLength: Int) -> String? {
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return "must not be empty (use null to clear)" }
        if text.count > maxLength { return "must be at most \(maxLength) characters" }
        if text.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\n") || (0x7f...0x9f).contains($0.value) }) {
            return "must not contain control characters"
        }
        return nil
    }

    /// A link the page shows or loads: the checkout URL's rules (http(s) URL or absolute path, no
    /// backslashes, userinfo or protocol-relative `//host`), and no quotes or angle brackets (escaped
    /// anyway; a URL has no need of them unencoded).
    public static func link(_ text: String) -> String? {
        if text.contains(where: { "\"'<>`".contains($0) }) { return "must not contain quotes or angle brackets (percent-encode them)" }
        return CheckoutURL.validate(text)
    }

    /// `#rgb` or `#rrggbb`.
    public static func color(_ text: String) -> String? {
        rgb(text) == nil ? "must be #rgb or #rrggbb" : nil
    }

    public static func language(_ text: String) -> String? {
        languages.contains(text) ? nil : "must be one of \(languages.joined(separator: ", "))"
    }

    // MARK: Rendering

    /// The red, green and blue of `#rgb` / `#rrggbb` (0–255 each), or nil.
    public static func rgb(_ text: String) -> (Int, Int, Int)? {
        guard text.first == "#", text.utf8.allSatisfy({ $0 == UInt8(ascii: "#") || $0.isHexDigit }) else { return nil }
        let digits = Array(text.dropFirst())
        let channels: [String]
        switch digits.count {
        case 3: channels = digits.map { String([$0, $0]) }
        case 6: channels = [String(digits[0...1]), String(digits[2...3]), String(digits[4...5])]
        default: return nil
        }
        let values = channels.compactMap { Int($0, radix: 16) }
        return values.count == 3 ? (values[0], values[1], values[2]) : nil
    }

    /// WCAG relative luminance of a colour, 0 (black) to 1 (white).
    public static func luminance(_ color: (Int, Int, Int)) -> Double {
        func linear(_ channel: Int) -> Double {
            let c = Double(channel) / 255
            return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055).pow(2.4)
        }
        return 0.2126 * linear(color.0) + 0.7152 * linear(color.1) + 0.0722 * linear(color.2)
    }

    /// WCAG contrast ratio between two luminances (1 to 21).
    public static func contrast(_ a: Double, _ b: Double) -> Double {
        (max(a, b) + 0.05) / (min(a, b) + 0.05)
    }

    /// Text colour for a button in `accent`: white or near-black, whichever contrasts more (so any accent
    /// the shop picks keeps its label readable).
    public static func textColor(on accent: String) -> String {
        guard let rgb = rgb(accent) else { return "#ffffff" }
        let l = luminance(rgb)
        return contrast(l, 1) >= contrast(l, luminance((0x1d, 0x23, 0x30))) ? "#ffffff" : "#1d2330"
    }

    /// The accent as a graphic on the page's `backgrounds` (the progress fill on its track, the pulse and the
    /// message's rule on the card): the shop's colour where it stands out at least 3:1 against every one
    /// (WCAG 1.4.11, non-text contrast), else the same hue darkened — or, on dark backgrounds, lightened — in
    /// small steps until it does. A light yellow stays the shop's yellow on the button (with dark text) and
    /// becomes an ochre on a light card; a navy becomes a lighter blue on a dark one.
    public static func graphicColor(_ accent: String, on backgrounds: [String]) -> String {
        guard let color = rgb(accent) else { return accent }
        let grounds = backgrounds.compactMap(rgb).map(luminance)
        guard !grounds.isEmpty else { return accent }
        let towardBlack = grounds.reduce(0, +) / Double(grounds.count) > 0.2
        func mixed(_ t: Double) -> (Int, Int, Int) {
            func channel(_ c: Int) -> Int {
                Int((Double(c) + ((towardBlack ? 0 : 255) - Double(c)) * t).rounded())
            }
            return (channel(color.0), channel(color.1), channel(color.2))
        }
        var step = 0
        var candidate = color
        while step < 20, grounds.contains(where: { contrast(luminance(candidate), $0) < 3 }) {
            step += 1
            candidate = mixed(Double(step) / 20)
        }
        if step == 0 { return accent }
        func hex(_ c: Int) -> String { (c < 16 ? "0" : "") + String(c, radix: 16) }
        return "#" + hex(candidate.0) + hex(candidate.1) + hex(candidate.2)
    }

    /// The language to serve: the room's fixed `language` when set, otherwise the best match of the
    /// `Accept-Language` header (RFC 9110 quality values; `de-CH` matches `de`), otherwise English.
    public static func language(acceptLanguage header: String?, fixed: String? = nil) -> String {
        if let fixed, languages.contains(fixed) { return fixed }
        guard let header else { return languages[0] }
        var best: (language: String, quality: Double, order: Int)?
        for (order, part) in header.split(separator: ",").enumerated() {
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let tag = pieces.first?.lowercased(), !tag.isEmpty else { continue }
            var quality = 1.0
            for parameter in pieces.dropFirst() where parameter.lowercased().hasPrefix("q=") {
                quality = Double(parameter.dropFirst(2)) ?? 0
            }
            let primary = String(tag.split(separator: "-").first ?? "")
            guard quality > 0, languages.contains(primary) else { continue }
            if best == nil || quality > best!.quality { best = (primary, quality, order) }
        }
        return best?.language ?? languages[0]
    }

    /// A short id for support, derived from the ticket's id (not secret): its 32-bit FNV-1a hash as hex,
    /// `"9f3a-21c4"` — easy to read aloud, and it tells nothing of the id (a pass holder's id carries their
    /// customer id). Support finds the shopper by hashing the ids in the logs. The page's script derives
    /// the same from the ticket text.
    public static func queueID(ticketID: String) -> String {
        guard !ticketID.isEmpty else { return "" }
        var hash: UInt32 = 0x811c_9dc5
        for byte in ticketID.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        let hex = String(hash, radix: 16)
        let padded = String(repeating: "0", count: 8 - hex.count) + hex
        return "\(padded.prefix(4))-\(padded.suffix(4))"
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (48...57).contains(self) || (65...70).contains(self) || (97...102).contains(self)
    }
}

extension Double {
    fileprivate func pow(_ exponent: Double) -> Double {
        Foundation.pow(self, exponent)
    }
}
