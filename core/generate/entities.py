"""Entity values that fill the slots of instructions, split into disjoint TRAIN and TEST pools.

Every pool is written once below and split deterministically by position: items 0, 1, 2 of
every block of five go to TRAIN, items 3 and 4 to TEST. The TEST pools are shared by the
``test``, ``test_extended`` and ``validation`` splits; no TRAIN value ever appears there.
Procedural kinds (dates, times, phone numbers, order ids ...) use disjoint ranges per split.
"""

from __future__ import annotations

import random
from typing import Any

TRAIN = "train"
TEST = "test"

_RAW: dict[str, str] = {
    "city": "Oslo|Lima|Porto|Nairobi|Osaka|Bergen|Quito|Lyon|Hanoi|Tallinn|Denver|Cork|Perth|Accra|Seville|Kraków|Leeds|Adelaide|"
    "Montevideo|Gdańsk|Bilbao|Tucson|Kyoto|Cusco|Glasgow|Valencia|Durban|Busan|Zagreb|Halifax|Marseille|Bologna|Austin|"
    "Tbilisi|Riga|Chennai|Auckland|Cebu|Antwerp|Malmö|Salzburg|Calgary|Nantes|Ghent|Tromsø|Reykjavik|Winnipeg|Bremen|"
    "Split|Cádiz|Graz|Lucerne|Hobart|Dunedin|Fukuoka|Medellín|Rosario|Mendoza|Pune|Kochi|Aarhus|Turku|Bratislava|Ljubljana|"
    "Nice|Brest|Eindhoven|Utrecht|Dresden|Leipzig|Trieste|Verona|Izmir|Haifa|Marrakesh|Tunis|Sapporo|Sendai|Boise|Savannah",
    "country": "Norway|Peru|Portugal|Kenya|Japan|Chile|Ecuador|France|Vietnam|Estonia|Canada|Ireland|Australia|Ghana|Spain|"
    "Poland|Uruguay|Georgia|Latvia|India|New Zealand|Belgium|Sweden|Austria|Iceland|Croatia|Slovenia|Argentina|Morocco|Tunisia|"
    "Finland|Denmark|Mexico|Colombia|Greece|Turkey|Thailand|Indonesia|Egypt|Brazil",
    "country_code": "NO|PE|PT|KE|JP|CL|EC|FR|VN|EE|CA|IE|AU|GH|ES|PL|UY|GE|LV|IN",
    "person": "Maria Lopez|Tom Becker|Aiko Tanaka|Samuel Okafor|Ingrid Dahl|Luca Romano|Priya Nair|Jonas Weber|Chloe Martin|"
    "Diego Alvarez|Hannah Schmidt|Omar Haddad|Sofia Costa|Liam Walsh|Mei Chen|Noah Fischer|Amara Mensah|Elena Petrova|"
    "Ravi Kumar|Clara Jensen|Mateo Silva|Yuki Sato|Fatima Benali|Oskar Lind|Grace Kim|Pablo Ortega|Nadia Ivanova|"
    "Henrik Berg|Zoe Turner|Kwame Boateng|Lena Vogel|Arjun Mehta|Isabel Cruz|Felix Braun|Ana Ferreira|Marco Bianchi|"
    "Sara Nilsson|Daniel Park|Leila Karimi|Victor Dubois|Emma Clarke|Hugo Moreau|Nina Kowalski|Tariq Aziz|Julia Novak|"
    "Erik Holm|Rosa Jimenez|Ben Harper|Ayla Demir|Kofi Asante|Maya Rossi|Stefan Horvat|Lucia Marino|Ivan Popov|Olivia Reed|"
    "Tomas Varga|Hana Yamamoto|Carlos Mendes|Freya Olsen|Adil Rahman",
    "company": "Northwind Energy|Bluepeak Telecom|Harbor Grocers|Lumen Books|Atlas Fitness|Crescent Airlines|Pinewood Bank|"
    "Solace Insurance|Vertex Cloud|Maple Streaming|Quill Office Supply|Ember Coffee|Orbit Mobile|Cobalt Gas|Riverstone Water|"
    "Nimbus Weather|Tidewater Electric|Granite Gym|Saffron Foods|Kestrel Outfitters|Beacon Pharmacy|Juniper Travel|"
    "Halcyon Hotels|Starling News|Copperleaf Garden",
    "ticker": "AAPL|MSFT|NVDA|AMZN|GOOGL|TSLA|META|NFLX|ADBE|ORCL|INTC|AMD|CSCO|PEP|KO|DIS|NKE|SBUX|V|MA|JPM|BAC|WMT|COST|XOM",
    "crypto": "BTC|ETH|SOL|ADA|XRP|DOT|LTC|AVAX|LINK|ATOM|ALGO|XLM|NEAR|FIL|DOGE",
    "etf": "VTI|SPY|QQQ|VOO|IWM|EFA|VNQ|AGG|SCHD|ARKK|XLE|XLF|GLD|TLT|VWO",
    "commodity": "gold|silver|brent crude|natural gas|copper|wheat|corn|coffee|cocoa|platinum|soybeans|sugar|cotton|palladium|lumber",
    "market_index": "S&P 500|Nasdaq 100|Dow Jones|FTSE 100|DAX|Nikkei 225|CAC 40|Hang Seng|Euro Stoxx 50|Russell 2000|"
    "IBEX 35|ASX 200|TSX Composite|Sensex|KOSPI",
    "mutual_fund": "VFIAX|FXAIX|SWPPX|VTSAX|FCNTX|AGTHX|VWELX|PRGFX|DODGX|VIGAX",
    "bond": "US 10-year Treasury|German 10-year Bund|UK 10-year Gilt|Japan 10-year JGB|US 30-year Treasury|"
    "French 10-year OAT|Italian 10-year BTP|US 2-year Treasury|Canadian 10-year bond|Australian 10-year bond",
    "budget": "Groceries|Dining Out|Rent|Utilities|Transport|Vacation Fund|Kids Activities|Pet Care|Home Repairs|Gifts|"
    "Streaming Services|Gym|Books|Car Maintenance|Medical",
    "invoice": "INV-2041|INV-2117|INV-2290|INV-3305|INV-3412|INV-3578|INV-4021|INV-4156|INV-4433|INV-5102|INV-5260|INV-5598|"
    "INV-6013|INV-6147|INV-6329",
    "goal": "Emergency Fund|New Laptop|Wedding|Down Payment|Japan Trip|New Bike|Camera Upgrade|College Fund|Kitchen Remodel|"
    "Winter Coat|Piano|Road Trip|Sabbatical|Solar Panels|Anniversary Gift",
    "watchlist": "Tech Giants|Dividend Picks|Green Energy|Long Shots|Bank Stocks|Chip Makers|Retail Watch|Healthcare Names|"
    "Travel Rebound|Income Plays",
    "tax_doc": "2023 W-2|Charity Receipts 2024|Mortgage Interest Statement|1099-INT Pinewood|Property Tax Bill|"
    "Childcare Receipts|Home Office Expenses|Brokerage 1099-B|Medical Expense Summary|Student Loan Interest",
    "policy": "POL-448812|POL-510937|POL-602245|POL-317760|POL-729104|POL-884213|POL-193356|POL-265478|POL-951602|POL-406881",
    "card_nickname": "Travel Visa|Everyday Debit|Work Amex|Backup Mastercard|Shared Family Card|Online Shopping Card|"
    "Gas Card|Grocery Rewards Card|Old Savings Debit|Business Visa",
    "work_title": "Quarterly Budget Review|Product Launch Plan|Hiring Roadmap|Q3 Sales Forecast|Onboarding Guide|"
    "Vendor Comparison|Security Audit Findings|Marketing Calendar|Office Move Checklist|Customer Survey Results|"
    "Board Meeting Deck|Pricing Strategy|Incident Postmortem|Team Offsite Agenda|Annual Report Draft|Partner Contract Notes|"
    "Support Backlog Review|Design System Proposal|Holiday Rota|Data Retention Policy|Brand Guidelines|Sprint Retrospective|"
    "Investor Update|Warehouse Layout|Training Schedule",
    "personal_title": "Garden Ideas|Birthday Party Plans|Recipe Collection|Reading Notes|Home Inventory|Gift Ideas|"
    "Wedding Playlist Ideas|Packing Thoughts|Dream Journal|Workout Log|Moving Day|Book Club Picks|Bucket List|"
    "Kitchen Renovation|Language Practice|Podcast Ideas|Camping Gear|Meal Prep|Tax Receipts|Holiday Letter",
    "task_title": "Renew passport|Call the plumber|Submit expense report|Book dentist appointment|Buy birthday card|"
    "Update resume|Pay electricity bill|Water the plants|Return library books|Fix the bike tire|Prepare slides|"
    "Email the landlord|Clean the garage|Order printer ink|Schedule car service|Cancel old gym plan|Back up laptop|"
    "Plan team lunch|Review contract|Send thank-you notes",
    "project": "Website Redesign|Mobile App v2|Data Migration|Office Relocation|Customer Portal|Brand Refresh|"
    "Payment Gateway|Warehouse Automation|Loyalty Program|Cloud Cost Cutting|Accessibility Audit|Search Revamp|"
    "Partner API|Support Chatbot|Analytics Rebuild",
    "event": "Weekly Standup|Design Review|Budget Sync|Client Kickoff|Team Lunch|All-Hands Meeting|Interview with Candidate|"
    "Quarterly Planning|Dentist Visit|Yoga Class|Parent-Teacher Meeting|Product Demo|Vendor Call|Book Club|"
    "Sprint Planning|Roadmap Review|Coffee Chat|Board Meeting|Training Session|Launch Party",
    "chore": "call mum|take out the recycling|pick up the dry cleaning|pay the water bill|feed the cat|"
    "submit the timesheet|buy milk|move the car|check the oven|renew the parking permit|stretch|water the tomatoes|"
    "back up my phone|charge the drill|book the vet",
    "topic": "tax receipts|kickoff notes|travel insurance|quarterly goals|vendor pricing|onboarding checklist|"
    "climate policy|remote work|electric cars|sourdough starter|marathon training|home solar|job interview tips|"
    "privacy law|battery recycling|coral reefs|urban gardening|sleep science|retirement planning|4-day work week|"
    "ocean plastics|chess openings|language learning|heat pumps|minimalism",
    "subject": "Invoice follow-up|Meeting notes|Weekend plans|Contract renewal|Project update|Lunch on Friday|"
    "Welcome aboard|Trip itinerary|Budget questions|Thank you|Site visit|Quarterly results|Reference letter|"
    "Pull request review|Holiday schedule|Conference travel|Team outing|Feedback request|Move-in details|New office hours",
    "message": "running ten minutes late|the meeting moved to 3 pm|can you review the draft today|happy birthday|"
    "dinner is at seven|I landed safely|please call me back|the report is ready|see you at the station|"
    "the package arrived|don't forget the keys|great job on the launch|the build is green again|"
    "let's reschedule to Monday|I'll bring the snacks|the venue is confirmed|we need more chairs|I sent the invoice|"
    "traffic is terrible|I'm outside",
    "channel": "#design-review|#team-updates|#incident-response|#random|#marketing|#sales-wins|#data-eng|#frontend|"
    "#support|#hiring|#release-notes|#ops-alerts|#product|#finance|#security",
    "group": "Family|Book Club|Soccer Parents|College Friends|Neighbours|Hiking Crew|Project Phoenix|Board Members|"
    "Volunteer Team|Band Practice|Cousins|Climbing Gym|Wedding Party|Office Lunch|Garden Club",
    "forum": "Home Brewing|Trail Running|Indie Game Dev|Vintage Cameras|Sourdough Bakers|Urban Cycling|Retro Computing|"
    "Aquarium Keepers|Houseplants|Woodworking",
    "folder": "Receipts|Newsletters|Clients|Travel|School|Recruiting|Vendors|Family|Archive 2023|Projects",
    "alert_name": "Frost warning for the garden|High pollen heads-up|Bad air day|Storm watch|Heatwave warning|"
    "Newsletter sorter|Boss emails|Invoice inbox rule|Spam catcher|Revenue drop alarm|Signup spike|Error budget burn|"
    "Late payment watch|Low disk warning|Churn watch",
    "observation": "Heron at the lake|Early cherry blossom|Monarch butterflies|Fox in the park|First frost|"
    "Swallows returning|Algae bloom|Owl call at dusk|Wild orchids|Beaver dam",
    "sensor": "Bedroom sensor|Balcony sensor|Office sensor|Nursery monitor|Garage sensor|Kitchen sensor|Attic sensor|"
    "Living room sensor|Basement sensor|Porch sensor",
    "trip": "Lisbon long weekend|Alps ski week|Family road trip|Honeymoon|Summer in Greece|Business trip to Berlin|"
    "Camping in the fjords|Tokyo food tour|Christmas at grandma's|Island hopping|Conference in Madrid|Hiking the Dolomites|"
    "Spring break|Coastal drive|Safari adventure",
    "travel_doc": "Passport scan|Vaccination card|Travel insurance policy|Visa approval|Driver's licence|Hotel voucher|"
    "Rail pass|Boarding pass|Car rental contract|ESTA confirmation",
    "place": "Central Station|City Museum|Riverside Park|the Old Town Square|Harbour Market|the university campus|"
    "Westgate Mall|the airport|the stadium|the botanical garden|Union Square|the convention centre|North Beach|"
    "the cathedral|the zoo",
    "address": "12 Harbour Road, Bergen|48 Elm Street, Denver|7 Rue Victor Hugo, Lyon|221 King Street, Perth|"
    "9 Calle Mayor, Seville|31 Maple Avenue, Halifax|5 Kings Road, Leeds|80 Via Roma, Bologna|14 Oak Lane, Austin|"
    "3 Strandvejen, Aarhus|66 Queen Street, Auckland|19 Rua Augusta, Porto|102 Lake Drive, Calgary|"
    "27 Marktplatz, Graz|55 Ocean Parade, Durban",
    "address_label": "Home|Office|Parents|Cabin|Gym|Studio|Warehouse|Grandma's|Beach House|Pickup Locker",
    "airport": "JFK|LHR|CDG|FRA|AMS|MAD|FCO|ZRH|CPH|OSL|ARN|HEL|DUB|LIS|BCN|MUC|VIE|IST|DXB|SIN|HND|ICN|SYD|YYZ|SFO",
    "flight": "LH 432|BA 117|AF 1280|KL 605|SK 1467|IB 3166|AY 831|EI 155|TP 1351|LX 318|OS 501|TK 1822|EK 73|SQ 322|NH 209",
    "station": "Central Station|Harbour Ferry Terminal|Northgate Bus Station|Airport Rail Link|Market Street Stop|"
    "University Station|Riverside Tram Stop|Old Town Station|Stadium Stop|Westside Interchange",
    "restaurant": "Trattoria Sole|The Blue Anchor|Sakura House|Casa Verde|Le Petit Four|Spice Route|Nordic Table|"
    "Taqueria Luna|Golden Dragon|The Olive Branch|Bistro 22|Smokehouse 88|Little Saigon|Café Rouge|Harvest Kitchen",
    "product": "Aurora X2 headphones|Nimbus 14 laptop|Trailblazer hiking boots|Breeze standing fan|Pulse fitness watch|"
    "Cascade espresso machine|Lumen desk lamp|Voyager carry-on suitcase|Echo mechanical keyboard|Harbor rain jacket|"
    "Atlas yoga mat|Pixel pro webcam|Summit water bottle|Glide electric toothbrush|Terra air fryer|Comet robot vacuum|"
    "Zen noise machine|Orbit bike helmet|Meadow linen sheets|Ridge camping stove",
    "grocery": "oat milk|sourdough bread|free-range eggs|basmati rice|cherry tomatoes|greek yogurt|olive oil|"
    "ground coffee|bananas|cheddar cheese|frozen peas|almond butter|spinach|chickpeas|dark chocolate",
    "dish": "pad thai|margherita pizza|chicken tikka masala|veggie burrito|salmon poke bowl|ramen|falafel wrap|"
    "beef pho|mushroom risotto|green curry|fish tacos|bibimbap|lasagna|shawarma plate|dumplings",
    "software": "PhotoForge Pro|Starfall Odyssey|The Silent Orchard e-book|TaxEase 2024|MixMaster Studio|CodePad Plus|"
    "Skyline Racer|Atlas of Tides e-book|SecureVault|BudgetBee",
    "wishlist": "Birthday Wishes|Home Office Upgrades|Holiday Gifts|Camping Gear|Baby Shower|Kitchen Dreams|"
    "Back to School|Wedding Registry|Bike Parts|Reading Corner",
    "coupon": "SAVE10NOW|SPRING25|FREESHIP|WELCOME15|BUNDLE20|FLASH30|LOYAL5|EXTRA12|WEEKEND18|STUDENT10",
    "medication": "ibuprofen|amoxicillin|metformin|lisinopril|atorvastatin|cetirizine|omeprazole|levothyroxine|"
    "sertraline|amlodipine|paracetamol|loratadine|simvastatin|prednisone|albuterol",
    "symptom": "headache|sore throat|fever|dry cough|dizziness|nausea|back pain|fatigue|runny nose|chest tightness|"
    "joint pain|skin rash|earache|insomnia|stomach cramps",
    "food": "a banana|a cup of cooked rice|100 g of salmon|an avocado|a slice of whole-wheat bread|a boiled egg|"
    "a bowl of oatmeal|a cup of lentils|a handful of almonds|a chicken breast|a glass of orange juice|a baked potato|"
    "a serving of tofu|an apple|a cup of greek yogurt",
    "allergen": "peanuts|shellfish|penicillin|pollen|cat dander|latex|eggs|gluten|bee stings|dust mites",
    "plan": "Summer Shred|Couch to 5K|Marathon Build|Mediterranean Month|Low-Carb Reset|Strength Basics|Yoga Journey|"
    "Plant-Based Start|Family Meals|Core Challenge|10K Steps Club|Office Fitness|Cycling Base|Winter Bulk|Mindful Eating",
    "record": "Blood test March|Flu vaccination|Knee MRI|Allergy panel|Dental X-ray|Eye exam results|Cholesterol check|"
    "Physio referral|Migraine week|Sprained ankle|Back pain flare-up|Vision check|Tetanus booster|Sleep study|Skin check",
    "movie": "The Quiet Harbour|Neon Skyline|A Winter in Lisbon|Paper Moons|The Last Cartographer|Echoes of Mars|"
    "Small Hours|The Glass Orchard|Runaway Summer|Iron Meadow|Midnight Ferry|The Long Tide|Silver Lining Road|"
    "Distant Thunder|City of Kites",
    "tv_show": "Northern Lights Precinct|The Baker's Dozen|Orbit Station|Harbour Street|The Archivists|Wild Kitchens|"
    "Parallel Lines|The Night Shift Diaries|Mountain Rescue|Code Breakers",
    "documentary": "Oceans Apart|The Bee Keepers|Inside the Glacier|Voices of the Desert|The Chip Makers|Rewilding Europe|"
    "Night Markets|The Long Migration|Salt and Stone|Rivers of Light",
    "book": "The Clockmaker's Daughter|Salt Roads|A Field Guide to Clouds|The Midnight Garden|Letters from Lagos|"
    "The Cartographer's Son|Quiet Rivers|The Last Lighthouse|Stone and Sky|The Paper Bridge|Northern Fires|"
    "The Honey Thief|Small Gods of Winter|The Tidekeeper|The Orchard Year",
    "album": "Golden Hour Drive|Paper Planes|Blue Static|Northern Songs|Velvet Underground Lights|City Rain|"
    "Second Sunrise|Low Tide|Echo Chamber|Wild Honey",
    "podcast": "The Daily Byte|History Unboxed|Money Matters Weekly|Science Friday Night|The Design Room|"
    "Deep Work Radio|Founders Table|Green Planet Talk|The Chess Hour|Mind the Gap|Kitchen Confidential|Startup Diaries|"
    "Word Nerds|Space Out|The Long Run",
    "game": "Starfall Odyssey|Kingdom of Tides|Pixel Racers|Hollow Peaks|Cyber Garden|Dragon Harbour|Frost Legion|"
    "Moonlight Farm|Skyline Racer|Echo Protocol",
    "song": "Paper Boats|Midnight Train|Golden Fields|Silver Rain|Northern Star|Open Roads|Glass Houses|Velvet Sky|"
    "Lighthouse|City Lights|Slow Dancer|Electric Heart|Wildflower|Ocean Eyes|Summer Static",
    "artist": "The Lumineers Collective|Nora Vale|Kid Harbor|The Velvet Foxes|Mila Jensen|Orbit Nine|Sun Ra Revival|"
    "Lena Moss|The Paper Kites Club|DJ Solstice|Ivy Brooks|The Night Owls|Marco Vento|Aurora Bay|Soul Avenue",
    "playlist": "Morning Run|Deep Focus|Sunday Chill|Road Trip Anthems|Dinner Party|Throwback Hits|Rainy Day|"
    "Workout Mix|Late Night Jazz|Study Beats|Summer BBQ|Coding Flow|Kids Songs|Wedding Dance|Sleep Sounds",
    "photo_album": "Summer 2024|Baby's First Year|Japan Trip|Graduation Day|Family Reunion|Garden Progress|"
    "Best of the Dog|Wedding Photos|Hiking Adventures|Christmas Morning",
    "radio": "Jazz FM 24|Classic Rock Radio|City News 92|Chillwave Station|BBC World Service|Radio Nova|"
    "Country Gold|Indie Underground|Lo-Fi Lounge|Classical Drive",
    "tv_channel": "Channel 4|Discovery|National Geographic|BBC One|Comedy Central|Sky Sports|CNN|Arte|HBO|History Channel",
    "word": "serendipity|ephemeral|ubiquitous|resilient|meticulous|candid|eloquent|pragmatic|tenacious|whimsical|"
    "ambiguous|benevolent|cacophony|diligent|esoteric|frugal|gregarious|haphazard|inevitable|jubilant|"
    "laconic|mellifluous|nostalgia|obstinate|paradox",
    "language": "French|German|Spanish|Italian|Portuguese|Japanese|Korean|Dutch|Swedish|Polish|Turkish|Greek|"
    "Vietnamese|Hindi|Czech",
    "sentence": "Where is the nearest train station|The meeting starts at nine tomorrow|I would like a table for two|"
    "Thank you for your patience|Please send the invoice by Friday|Our flight was delayed again|"
    "Can you recommend a good restaurant|The museum is closed on Mondays|I left my umbrella on the bus|"
    "We are happy to announce the winners|How much does this cost|The garden looks beautiful in spring|"
    "Please keep the door closed|My phone battery is almost empty|The report needs one more review",
    "encyclopedia": "Great Barrier Reef|Industrial Revolution|Ada Lovelace|Photosynthesis|Silk Road|Byzantine Empire|"
    "Quantum computing|Amazon rainforest|Printing press|Marie Curie|Roman aqueducts|Plate tectonics|Renaissance art|"
    "Hubble Space Telescope|Viking Age",
    "team": "Riverside Rovers|Northside United|Harbour City FC|Mountain Lions|Coastal Sharks|Capital Eagles|"
    "Valley Vipers|Metro Meteors|Lakeside Tigers|Desert Hawks|Forest Wolves|Bay Bulls",
    "league": "Premier League|La Liga|Serie A|Bundesliga|Ligue 1|Eredivisie|MLS|NBA|NHL|Champions League",
    "athlete": "Lena Hoffmann|Marcus Reid|Aiko Mori|Diego Santos|Sven Aalto|Chiara Conti|Tunde Bello|Pierre Lambert|"
    "Hiro Ishida|Alex Novak|Ramon Vidal|Elise Moreau",
    "doi": "10.1038/s41586-021-03819-2|10.1126/science.abc1234|10.1145/3442188.3445922|10.1016/j.cell.2020.05.011|"
    "10.1103/PhysRevLett.125.010501|10.1371/journal.pone.0231234|10.48550/arXiv.2106.09685|10.1093/nar/gkaa1100|"
    "10.1056/NEJMoa2034577|10.1007/s10994-021-05946-3",
    "paper_title": "Attention Is All You Need|Deep Residual Learning|Scaling Laws for Neural Language Models|"
    "A Survey of Coral Bleaching|Dark Matter Halos Revisited|Sleep and Memory Consolidation|Microbiome and Mood|"
    "Graph Neural Networks Review|CRISPR Off-Target Effects|Urban Heat Islands",
    "deck": "Spanish Verbs|Anatomy Basics|World Capitals|Organic Chemistry|Japanese Kanji N5|Music Theory|"
    "Statistics Terms|Art History|Python Keywords|French Vocabulary|Bar Exam Prep|Wine Regions|Bird Calls|"
    "Constitutional Law|Medical Abbreviations",
    "bookmark": "Weekly recipes blog|Tax office portal|Running route planner|Design inspiration|Python docs|"
    "Local news site|Train timetable|Library catalogue|Bike repair guide|Photography tips",
    "url": "https://news.example.com/climate-deal|https://blog.example.org/remote-work-study|"
    "https://www.example.net/space/mars-rover|https://example.com/economy/rate-hike|https://press.example.com/health/new-vaccine|"
    "https://tech.example.org/chip-shortage|https://example.net/sports/final-recap|https://daily.example.com/city/housing-plan|"
    "https://example.org/science/deep-sea|https://world.example.com/elections-preview",
    "claim": "drinking coffee stunts growth|the Great Wall is visible from space|we only use ten percent of our brains|"
    "bats are blind|lightning never strikes twice|goldfish have a three-second memory|cracking knuckles causes arthritis|"
    "humans have five senses|bulls hate the colour red|sugar makes kids hyperactive",
    "region": "Pacific Northwest|Southern California|Central Italy|Northern Japan|the Andes|Alaska|the Balkans|"
    "New Zealand's South Island|Iceland|the Philippines|Central Chile|Eastern Turkey|Sumatra|the Aegean|Hokkaido",
    "repo": "acme/webshop|acme/payments-api|orbit/mobile-app|orbit/design-system|lumen/data-pipeline|lumen/infra|"
    "northwind/search|northwind/auth-service|kestrel/docs|kestrel/cli|harbor/etl-jobs|harbor/ml-models|"
    "vertex/gateway|vertex/billing|quill/editor",
    "branch": "feature/login-redesign|fix/null-pointer|main|develop|release/2.4|feature/dark-mode|hotfix/payment-timeout|"
    "chore/upgrade-deps|feature/search-filters|fix/flaky-tests",
    "issue_title": "Login button unresponsive on Safari|Crash when uploading large files|Add dark mode|"
    "Typo in onboarding email|Slow search on big accounts|Support CSV export|Memory leak in worker|"
    "Broken link in docs|Timezone bug in reports|Add retry to webhook sender",
    "dev_comment": "Looks good to me|Can you add a test for this?|Reproduced on staging|Fixed in the latest commit|"
    "Please rebase on main|Duplicate of an older issue|Needs a design review|Closing as won't fix|"
    "Thanks, merging after CI passes|Could you share the logs?",
    "username": "mlopez|tbecker|atanaka|sokafor|idahl|lromano|pnair|jweber|cmartin|dalvarez|hschmidt|ohaddad|scosta|lwalsh|mchen",
    "service": "checkout-api|auth-service|search-indexer|notification-worker|billing-service|image-resizer|"
    "recommendation-engine|gateway|inventory-sync|email-sender|report-builder|user-profile|payments-ledger|"
    "feature-store|chat-backend",
    "incident": "Checkout errors spiking|Login latency above SLO|Payments failing in EU|Search returning empty results|"
    "Emails delayed|Dashboard not loading|Disk full on database|Mobile push not delivered|API rate limits misfiring|"
    "Cache stampede",
    "log_query": "timeout|NullPointerException|connection refused|status=500|OutOfMemoryError|deadlock detected|"
    "invalid token|rate limit exceeded|SSL handshake failed|disk quota exceeded",
    "code_query": "parse_config|TODO|retry_backoff|UserSession|deprecated|fetch_orders|MAX_CONNECTIONS|validate_email|"
    "@cache|render_invoice",
    "repo_path": "src/main.py|README.md|docs/setup.md|package.json|config/settings.yaml|src/api/routes.ts|Dockerfile|"
    "tests/test_auth.py|Makefile|scripts/deploy.sh",
    "package": "requests|numpy|react|express|pandas|lodash|fastapi|django|axios|serde|tokio|pytest|webpack|flask|typescript",
    "version": "v1.2.0|v2.0.0|v2.3.1|v3.1.4|v0.9.0|v4.0.0-rc1|v1.10.2|v5.2.0|v2.8.0|v3.0.1",
    "domain": "example-shop.com|status.acme.io|blog.orbit.dev|api.lumen.app|docs.kestrel.io|northwind.net|"
    "harbor-data.org|vertex-cloud.com|quill.page|mail.pinewood.bank",
    "regex": "^[a-z]+$|\\d{3}-\\d{4}|^\\S+@\\S+$|[A-Z]{2}\\d{4}|colou?r|^\\w{8,}$|\\bcat\\b|^#[0-9a-f]{6}$|(\\d+)px|^v\\d+\\.\\d+",
    "regex_sample": "hello world|555-1234|ada@example.com|AB1234|the colour red|password123|concatenate the cat|"
    "#ff8800|width: 240px|v2.10",
    "key_label": "CI deploy key|Mobile app key|Analytics export|Staging webhook|Partner integration|Backup job|"
    "Slack notifier|Local testing|Billing sync|Monitoring agent",
    "env_var": "DATABASE_URL|REDIS_HOST|API_TIMEOUT|SENTRY_DSN|FEATURE_BETA|LOG_LEVEL|S3_BUCKET|SMTP_PASSWORD|"
    "MAX_WORKERS|CACHE_TTL",
    "cron": "nightly-backup|hourly-sync|weekly-report|cleanup-temp-files|refresh-tokens|send-digests|rotate-logs|"
    "rebuild-index|expire-sessions|billing-run",
    "wiki": "On-call Handbook|Architecture Overview|Release Process|Coding Guidelines|Local Setup|Incident Playbook|"
    "API Conventions|Security Checklist|Data Model|Team Rituals",
    "flag": "new-checkout-flow|dark-mode|beta-search|smart-reminders|one-click-upgrade|ai-summaries|"
    "faster-sync|new-onboarding|bulk-export|holiday-banner",
    "snippet": "Debounce helper|SQL pagination|Retry decorator|Docker cleanup|Git alias list|Date parsing|"
    "JWT decode|CSV to JSON|Bash loop template|Regex for emails",
    "table": "sales.orders|sales.customers|marketing.campaigns|finance.invoices|product.events|hr.employees|"
    "support.tickets|inventory.stock|web.sessions|billing.subscriptions|ops.incidents|growth.signups|"
    "logistics.shipments|ads.impressions|app.reviews",
    "column": "revenue|order_total|signup_date|country|session_length|discount|age|price|quantity|churned|"
    "page_views|rating|delivery_days|region|plan_type",
    "dataset": "customer_churn|web_traffic_2024|store_sales|support_tickets|marketing_spend|app_reviews|"
    "delivery_times|employee_survey|product_catalog|ad_clicks|energy_usage|loan_applications|taxi_trips|"
    "weather_history|inventory_levels",
    "metric": "daily active users|weekly revenue|conversion rate|churn rate|average order value|signups|"
    "support ticket volume|page load time|net promoter score|cart abandonment rate|monthly recurring revenue|"
    "refund rate|app crash rate|retention rate|customer lifetime value",
    "dashboard": "Executive Overview|Sales Pipeline|Marketing Funnel|Product Health|Support Metrics|Finance Monthly|"
    "Growth Experiments|Ops Status|Customer Success|Inventory Watch",
    "report": "Weekly Sales Summary|Monthly Churn Analysis|Campaign Performance|Quarterly Revenue Report|"
    "Support SLA Report|Cohort Retention|Regional Breakdown|Pricing Test Readout|Inventory Forecast|Board Metrics Pack",
    "query_name": "top customers|daily signups|late shipments|refunds by region|active subscriptions|"
    "revenue by product|weekly churn|open tickets|ad spend by channel|inventory below threshold",
    "data_source": "Production Postgres|Marketing Warehouse|Finance MySQL|Events BigQuery|Legacy CRM|Snowflake Prod|"
    "Analytics Replica|Support Database|HR System|Billing Mirror",
    "pipeline": "orders_etl|events_ingest|customer_sync|daily_rollup|ads_import|inventory_refresh|churn_features|"
    "finance_close|search_index_build|email_events",
    "experiment": "green checkout button|new pricing page|shorter signup form|free shipping banner|"
    "personalized homepage|annual plan nudge|onboarding checklist|dark mode default|one-page checkout|referral bonus",
    "model": "churn-predictor|fraud-detector|demand-forecaster|lead-scorer|price-optimizer|sentiment-classifier|"
    "image-tagger|eta-estimator|upsell-recommender|credit-risk",
    "sql": "SELECT COUNT(*) FROM sales.orders|SELECT country, SUM(revenue) FROM sales.orders GROUP BY country|"
    "SELECT * FROM support.tickets WHERE status = 'open'|SELECT AVG(session_length) FROM web.sessions|"
    "SELECT plan_type, COUNT(*) FROM billing.subscriptions GROUP BY plan_type|SELECT MAX(price) FROM inventory.stock|"
    "SELECT * FROM hr.employees LIMIT 10|SELECT region, AVG(delivery_days) FROM logistics.shipments GROUP BY region|"
    "SELECT COUNT(DISTINCT user_id) FROM product.events|SELECT SUM(discount) FROM finance.invoices",
    "expression": "(12.5 * 4) / 3|17% of 2,340|sqrt(1764)|3^7 - 1000|(48 + 77) * 1.2|1250 / 7|2^10 + 2^8|"
    "45 * 19 - 300|(99 - 12) / 4.5|12! / 10!",
    "equation": "3x + 7 = 22|2x - 5 = 11|x^2 - 9 = 0|5x = 3x + 14|4(x - 2) = 20|x / 3 + 4 = 10|7x - 2 = 3x + 10|"
    "x^2 + 2x - 8 = 0|9 - x = 2x|6x + 1 = 25",
    "room": "kitchen|living room|bedroom|office|hallway|bathroom|nursery|dining room|basement|guest room|garage|"
    "study|attic|laundry room|patio",
    "door": "front door|back door|garage side door|patio door|shed|side gate|basement door|balcony door|"
    "office door|mudroom door",
    "camera": "front porch|backyard|driveway|garage|living room|side gate|nursery|front yard|shed|hallway",
    "scene": "Movie Night|Good Morning|Dinner Party|Bedtime|Away Mode|Reading Nook|Romantic Evening|Workout|"
    "Wake Up Gently|Game Night|Focus Time|Holiday Lights",
    "automation": "Lights on at sunset|Lock doors at midnight|Heating before wake-up|Porch light on motion|"
    "Turn off everything when leaving|Close blinds at noon|Fan on when hot|Welcome home lights|Night-time quiet|"
    "Garden watering at dawn",
    "device_group": "Downstairs lights|Kids' rooms|Outdoor devices|Entertainment center|Bedroom comfort|"
    "Office gear|Security devices|Kitchen appliances|Holiday decorations|Patio set",
    "clip": "Package delivery Tuesday|Raccoon in the yard|Car in the driveway|Front door visitor|Dog on the sofa|"
    "Storm damage|Mail carrier|Late night noise|Kids playing|Neighbour's cat",
    "garden_zone": "front lawn|vegetable beds|back lawn|flower border|greenhouse|herb garden|orchard|hedges|"
    "rose garden|side yard",
    "announcement": "Dinner is ready|Time to leave for school|Movie starts in five minutes|Please come downstairs|"
    "Bedtime in ten minutes|The laundry is done|Guests are arriving|Lights out soon|Someone is at the door|"
    "Breakfast is on the table",
    "gift_card": "GC-4410-2291|GC-5720-1183|GC-6638-9012|GC-7184-3306|GC-8823-5547|GC-9015-6673|GC-1147-8820|"
    "GC-2256-4431|GC-3398-7764|GC-4602-1195",
    "file_path": "~/Downloads/report.pdf|~/Desktop/budget.xlsx|~/Documents/contract.docx|~/Pictures/team.jpg|"
    "~/Downloads/invoice_march.pdf|~/exports/customers.csv|~/Documents/notes.txt|~/Desktop/slides.pptx|"
    "~/data/sales_2024.csv|~/Downloads/tickets.csv",
    "booking_ref": "QX7P2L|HB4K9M|ZT2W8R|LM6Y3D|PV9C1S|RN5F7H|KD8J2Q|WS3X6B|GT1N4V|YC7R9E|MJ2P5K|FA4H8T|"
    "BE6Q3Z|UL9D2W|NO5G7C",
}

_POOLS: dict[str, list[str]] = {k: v.split("|") for k, v in _RAW.items()}


def _split(values: list[Any]) -> tuple[list[Any], list[Any]]:
    train = [v for i, v in enumerate(values) if i % 5 < 3]
    test = [v for i, v in enumerate(values) if i % 5 >= 3]
    return train, test


# Numeric pools that are entities (money amounts and prices), also split disjointly.
_NUMERIC: dict[str, list[float | int]] = {
    "amount": [
        25,
        40,
        12.5,
        75,
        120,
        18,
        250,
        60,
        35.5,
        90,
        15,
        300,
        48,
        22.75,
        500,
        80,
        19.99,
        1200,
        65,
        42,
        150,
        33,
        275,
        9.5,
        410,
        55,
        88,
        640,
        28,
        1750,
    ],
    "price": [20, 45, 99, 150, 14.99, 250, 79, 30, 180, 59.5, 320, 24, 110, 65, 399, 12, 210, 49.99, 85, 140],
}


def _pools() -> dict[str, dict[str, list[Any]]]:
    out: dict[str, dict[str, list[Any]]] = {TRAIN: {}, TEST: {}}
    for kind, values in {**_POOLS, **_NUMERIC}.items():
        if len(set(values)) != len(values):
            dupes = sorted({v for v in values if values.count(v) > 1})
            raise ValueError(f"duplicate values in pool {kind!r}: {dupes}")
        tr, te = _split(values)
        out[TRAIN][kind] = tr
        out[TEST][kind] = te
    return out


POOLS = _pools()
TRAIN_POOLS: dict[str, list[Any]] = POOLS[TRAIN]
TEST_POOLS: dict[str, list[Any]] = POOLS[TEST]


def _email(name: str) -> str:
    first, last = name.lower().replace("'", "").split(" ", 1)
    return f"{first}.{last.replace(' ', '')}@example.com"


def pool(kind: str, split: str) -> list[Any]:
    """Values of a pooled kind for a split ('train' or 'test'; validation uses 'test')."""
    return POOLS[TRAIN if split == TRAIN else TEST][kind]


def has_pool(kind: str) -> bool:
    return kind in _POOLS or kind in _NUMERIC


# ------------------------------------------------------------------ procedural kinds
# Train dates use days whose number is not = 3 (mod 4); test dates use days = 3 (mod 4).
def _date(rng: random.Random, split: str) -> str:
    month = rng.randint(1, 12)
    if split == TRAIN:
        day = rng.choice([d for d in range(1, 29) if d % 4 != 3])
    else:
        day = rng.choice([d for d in range(1, 29) if d % 4 == 3])
    year = rng.choice([2025, 2026])
    return f"{year}-{month:02d}-{day:02d}"


def _time(rng: random.Random, split: str) -> str:
    hour = rng.randint(7, 21)
    minute = rng.choice([0, 30]) if split == TRAIN else rng.choice([15, 45])
    return f"{hour:02d}:{minute:02d}"


def _phone(rng: random.Random, split: str) -> str:
    # train numbers use exchange 555-01xx, test numbers 555-02xx
    block = "01" if split == TRAIN else "02"
    return f"+1 415 555 {block}{rng.randint(10, 99)}"


def _digits(rng: random.Random, split: str, n: int) -> str:
    # train identifiers start with 1-4, test identifiers with 6-9
    first = rng.randint(1, 4) if split == TRAIN else rng.randint(6, 9)
    return str(first) + "".join(str(rng.randint(0, 9)) for _ in range(n - 1))


def _procedural(kind: str, rng: random.Random, split: str) -> Any:
    if kind == "date":
        return _date(rng, split)
    if kind == "time":
        return _time(rng, split)
    if kind == "datetime":
        return f"{_date(rng, split)} {_time(rng, split)}"
    if kind == "phone":
        return _phone(rng, split)
    if kind == "email":
        return _email(rng.choice(pool("person", split)))
    if kind == "card_last4":
        return _digits(rng, split, 4)
    if kind == "order_id":
        return "ORD-" + _digits(rng, split, 5)
    if kind == "tracking":
        return "1Z" + _digits(rng, split, 10)
    if kind == "issue_number":
        return int(_digits(rng, split, 3))
    raise KeyError(kind)


PROCEDURAL_KINDS = frozenset(
    {"date", "time", "datetime", "phone", "email", "card_last4", "order_id", "tracking", "issue_number"}
)

_LIST_OF = {
    "email_list": "email",
    "product_list": "product",
    "medication_list": "medication",
    "symptom_list": "symptom",
}


def sample(kind: str, rng: random.Random, split: str) -> Any:
    """One value of an entity kind for a split."""
    if kind in PROCEDURAL_KINDS:
        return _procedural(kind, rng, split)
    if kind in _LIST_OF:
        base = _LIST_OF[kind]
        n = rng.choice([2, 2, 3])
        vals: list[Any] = []
        while len(vals) < n:
            v = sample(base, rng, split)
            if v not in vals:
                vals.append(v)
        return vals
    return rng.choice(pool(kind, split))


# Plain numbers are not entities (they are not split); each kind has a sensible range.
NUMERIC_RANGES: dict[str, tuple[float, float, float]] = {
    "age": (18, 85, 1),
    "body_temp": (36.2, 39.6, 0.1),
    "bpm": (52, 104, 1),
    "days": (2, 10, 1),
    "distance": (5, 900, 5),
    "glucose": (72, 180, 1),
    "hour": (6, 10, 1),
    "hours": (6, 48, 6),
    "hours_worked": (1, 9, 0.5),
    "interval_hours": (1, 4, 1),
    "kcal": (1200, 3200, 50),
    "limit": (3, 20, 1),
    "litres": (1, 3.5, 0.5),
    "magnitude": (3.5, 6.5, 0.5),
    "measure": (2, 500, 1),
    "minutes": (5, 90, 5),
    "months": (1, 6, 1),
    "mood_score": (1, 10, 1),
    "nights": (1, 9, 1),
    "oven_temperature": (160, 240, 10),
    "percent": (10, 90, 5),
    "quantity": (1, 8, 1),
    "rate": (2.5, 8.5, 0.25),
    "replicas": (2, 12, 1),
    "sleep_hours": (5, 9.5, 0.5),
    "spo2": (90, 99, 1),
    "step_count": (3000, 15000, 500),
    "systolic": (100, 160, 1),
    "temperature": (16, 24, 0.5),
    "threshold": (10, 5000, 10),
    "weight_kg": (50, 110, 0.5),
    "year": (2024, 2027, 1),
    "years": (5, 30, 5),
    "zoom": (3, 9, 1),
}


def number(
    kind: str | None, type_: str, rng: random.Random, lo: float | None = None, hi: float | None = None
) -> int | float:
    """A plausible number for a numeric parameter (ints for 'integer', rounded floats for 'number')."""
    a, b, step = NUMERIC_RANGES.get(
        kind or "", (lo if lo is not None else 1, hi if hi is not None else 100, 1)
    )
    n_steps = int(round((b - a) / step))
    val = a + step * rng.randint(0, max(n_steps, 0))
    if type_ == "integer" or float(val).is_integer():
        return int(round(val))
    return round(val, 2)


def is_entity_kind(kind: str | None) -> bool:
    return bool(kind) and (has_pool(kind) or kind in PROCEDURAL_KINDS or kind in _LIST_OF)
