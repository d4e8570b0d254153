/// The report's fixed words in both languages, its style sheet and its one script.
extension DeliveryReport {
    static let countHeadings = [("Mottagna", "Received"), ("Godkända", "Accepted"), ("Avvisade", "Rejected"),
                                ("Skapade", "Created"), ("Ändrade", "Updated"), ("Borttagna", "Removed"),
                                ("Bortfiltrerade", "Filtered")]

    static func kindText(_ kind: EntityKind) -> (swedish: String, english: String) {
        switch kind {
        case .users: ("Användare", "Users")
        case .groups: ("Grupper", "Groups")
        case .memberships: ("Gruppmedlemskap", "Memberships")
        case .distributionOrders: ("Licenser", "Licenses")
        }
    }

    struct OutcomeText {
        var swedish: String
        var english: String
        var explanationSV: String
        var explanationEN: String
    }

    static func outcomeText(_ outcome: DeliveryOutcome) -> OutcomeText {
        switch outcome {
        case .applied:
            OutcomeText(swedish: "Inläst", english: "Applied",
                        explanationSV: "Hela leveransen lästes in i portalen.", explanationEN: "The whole delivery was applied to the portal.")
        case .appliedWithRejects:
            OutcomeText(swedish: "Inläst med avvisade rader", english: "Applied with rejected rows",
                        explanationSV: "Leveransen lästes in utom raderna nedan; det de avser lämnades orört i portalen.",
                        explanationEN: "The delivery was applied except the rows below; what they name was left as it was.")
        case .appliedWithWarnings:
            OutcomeText(swedish: "Inläst med varningar", english: "Applied with warnings",
                        explanationSV: "Alla rader lästes in; några värden lämnades tomma.",
                        explanationEN: "Every row was applied; some values were left empty.")
        case .held:
            OutcomeText(swedish: "Pausad", english: "Held",
                        explanationSV: "Leveransen skulle ta bort mer än gränsen tillåter och väntar på en operatör.",
                        explanationEN: "The delivery would remove more than the limit allows and waits for an operator.")
        case .refused:
            OutcomeText(swedish: "Avvisad", english: "Refused",
                        explanationSV: "Leveransen kunde inte läsas in; inget i portalen ändrades. Rätta felen och leverera igen.",
                        explanationEN: "The delivery could not be applied; nothing in the portal changed. Fix the findings and deliver again.")
        case .duplicate:
            OutcomeText(swedish: "Redan mottagen", english: "Duplicate",
                        explanationSV: "Samma leverans har redan lästs in; inget ändrades.",
                        explanationEN: "The same delivery was already applied; nothing changed.")
        case .test:
            OutcomeText(swedish: "Testläge", english: "Test mode",
                        explanationSV: "Leveransen lästes och kontrollerades men portalen ändrades inte; siffrorna visar vad den skulle göra.",
                        explanationEN: "The delivery was read and checked but the portal was not changed; the counts show what it would do.")
        case .discarded:
            OutcomeText(swedish: "Kasserad", english: "Discarded",
                        explanationSV: "En operatör kasserade den pausade leveransen; inget av den lästes in.",
                        explanationEN: "An operator discarded the held delivery; nothing of it was applied.")
        }
    }

    static func tone(_ outcome: DeliveryOutcome) -> String {
        switch outcome {
        case .applied: "good"
        case .appliedWithRejects, .appliedWithWarnings, .test, .duplicate: "warn"
        case .held, .refused, .discarded: "bad"
        }
    }

    static let style = """
        body{font:15px/1.45 system-ui,sans-serif;margin:2em;color:#1b1b1b;background:#fff}
        h1{margin:0 0 .3em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}h3{font-size:1em;margin:.2em 0}
        .en{color:#555}span.en::before{content:"/ ";color:#999}.note{color:#333}
        .badge{display:inline-block;padding:.25em .8em;border-radius:1em;font-weight:600}
        .good{background:#d9f2dc}.warn{background:#fff0c2}.bad{background:#fbd5d5}
        dl.facts{display:grid;grid-template-columns:max-content auto;gap:.1em 1em}dd{margin:0}
        table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
        #counts td{text-align:right}tr.over{background:#fbd5d5}tr.warn{background:#fffbea}
        td.value{min-width:12em;max-width:24em;overflow-wrap:anywhere;font-family:ui-monospace,monospace}
        ol.rules li{margin-bottom:.8em}.examples{font-size:.9em}.count{font-weight:400;color:#333}
        .filters{margin:.5em 0;display:flex;flex-wrap:wrap;gap:.8em;align-items:center}
        pre{background:#f4f4f4;padding:.6em;overflow-x:auto}
        @media print{.filters{display:none}body{margin:0}}
        """

    /// The filter: file, rule and free text, kept in the address's fragment
    /// (`#file=…&rule=…&q=…`) so a filtered view can be linked and a rule's link filters.
    static let script = """
        (function(){var f=document.getElementById('f-file'),r=document.getElementById('f-rule'),\
        q=document.getElementById('f-text'),out=document.getElementById('f-shown'),form=document.getElementById('filters');\
        if(!form)return;form.hidden=false;var rows=document.querySelectorAll('#rows tbody tr');\
        function apply(){var n=0,t=q.value.toLowerCase();for(var i=0;i<rows.length;i++){var tr=rows[i];\
        var ok=(!f.value||tr.getAttribute('data-file')===f.value)&&(!r.value||tr.getAttribute('data-rule')===r.value)\
        &&(!t||tr.textContent.toLowerCase().indexOf(t)>=0);tr.hidden=!ok;if(ok)n++;}out.textContent=String(n);}\
        function fromHash(){var p=new URLSearchParams(location.hash.slice(1));f.value=p.get('file')||'';\
        r.value=p.get('rule')||'';q.value=p.get('q')||'';apply();}\
        function toHash(){var p=new URLSearchParams();if(f.value)p.set('file',f.value);if(r.value)p.set('rule',r.value);\
        if(q.value)p.set('q',q.value);history.replaceState(null,'','#'+p.toString());apply();}\
        f.addEventListener('change',toHash);r.addEventListener('change',toHash);q.addEventListener('input',toHash);\
        form.addEventListener('submit',function(e){e.preventDefault();});\
        window.addEventListener('hashchange',fromHash);fromHash();})();
        """
}
