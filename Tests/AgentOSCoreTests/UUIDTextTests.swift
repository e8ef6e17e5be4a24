import AgentOSCore
import Foundation
import Testing

/// `UUID.lowercasedString` (D78) is Foundation's text form, lower-cased.
struct UUIDTextTests {
    @Test func theLowercasedFormIsFoundationsLowercased() {
        var samples = (0..<200).map { _ in UUID.random() } + (0..<50).map { _ in UUID() }
        samples.append(UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)))
        samples.append(UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255)))
        samples.append(UUID(uuidString: "01234567-89AB-CDEF-0123-456789ABCDEF")!)
        for u in samples {
            #expect(u.lowercasedString == u.uuidString.lowercased())
        }
    }
}
