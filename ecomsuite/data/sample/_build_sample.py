"""Build the EMBEDDED SAMPLE datasets shipped with ecomsuite.

Every row below was hand-written for ecomsuite: invented products, brands, queries,
reviews and summaries. It is NOT real data and scores on it mean nothing; it exists so
that the converters, tasks and tests run on a fresh offline machine.

The files are written in exactly the raw formats the publishers use (see README.md next
to this script), so the same readers handle the sample and the real data.

Run:  python ecomsuite/data/sample/_build_sample.py
It (re)writes every file deterministically (byte-identical for the pinned pandas/pyarrow).

License: Apache-2.0 (ecomsuite).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------
# 1. ESCI (Shopping Queries): examples + products parquet pair
# ---------------------------------------------------------------------------
# Products: id -> (locale, title, description, bullets (list or None), brand, color)
# Descriptions imitate Amazon's raw text: some plain, some with HTML markup.

PRODUCTS: dict[str, tuple] = {
    # --- q: wireless earbuds for iphone ---
    "B0SAMPL001": (
        "us",
        "Sonivo Air Pro Wireless Earbuds, Bluetooth 5.3 Headphones with 4 Mics, 32H Playtime with Charging Case, IPX5 Waterproof Ear Buds for iPhone and Android",
        "<p><b>Sound that keeps up with you</b></p><p>Sonivo Air Pro earbuds pair in seconds with iPhone, iPad and Android phones. "
        "Open the lid and they connect automatically to the last device you used.<br><br>"
        "Four beamforming microphones isolate your voice on calls, even on a windy street. Each earbud runs for 8 hours, "
        "and the pocket-size case adds three more full charges.<br><br><b>What's in the box:</b> earbuds, charging case, "
        "USB-C cable, 3 sizes of ear tips, user guide.</p>",
        [
            "SEAMLESS PAIRING: Bluetooth 5.3 connects instantly to iPhone, iPad, Android and laptops and stays stable up to 33 ft",
            "32 HOURS TOTAL PLAYTIME: 8 hours per charge plus 24 hours from the case; a 10-minute charge gives 90 minutes of music",
            "CLEAR CALLS: 4 built-in mics with noise reduction pick up your voice, not the traffic",
            "SWEAT AND RAIN PROOF: IPX5 rating makes them a safe choice for the gym, running and commuting",
            "WHAT YOU GET: Sonivo Air Pro earbuds, charging case, USB-C cable, S/M/L ear tips and our 12-month warranty",
        ],
        "Sonivo",
        "White",
    ),
    "B0SAMPL002": (
        "us",
        "Kestrel Audio BeatFlow True Wireless Earbuds - Deep Bass, Touch Controls, Low Latency Game Mode, Works with iPhone & Android - Matte Black",
        "BeatFlow earbuds were tuned by our acoustic team in Portland for deep, punchy bass without muddy mids. Tap either bud to "
        "play, pause, skip a track or call Siri. Game mode cuts audio delay to 60 ms so video and games stay in sync. The ergonomic "
        "wing tips lock the buds in place during workouts, and the slim case fits in the coin pocket of your jeans. Compatible with "
        "every Bluetooth phone, including iPhone 15, 14 and 13.",
        [
            "Deep bass from 10mm graphene drivers",
            "Touch controls for music, calls and voice assistant",
            "Game mode with 60ms low latency",
            "Secure fit with soft wing tips, 3 sizes included",
        ],
        "Kestrel Audio",
        "Matte Black",
    ),
    "B0SAMPL003": (
        "us",
        "Lumetra Wired Earphones with Lightning Connector, In-Ear Earbuds with Mic and Inline Remote, MFi Certified for iPhone 14/13/12/11",
        None,
        [
            "MFi certified Lightning plug works with iPhone 14, 13, 12, 11, SE and iPad models with a Lightning port",
            "No pairing and no charging needed: plug in and listen",
            "In-line remote adjusts volume, answers calls and controls playback",
            "Tangle-resistant 4 ft flat cable",
        ],
        "Lumetra",
        "White",
    ),
    "B0SAMPL004": (
        "us",
        "Silicone Case Cover Compatible with Sonivo Air Pro Charging Case, Shockproof Protective Skin with Keychain, Front LED Visible",
        None,
        [
            "Made for the Sonivo Air Pro charging case only",
            "Soft silicone absorbs drops and prevents scratches",
            "Cut-out keeps the LED visible and supports wireless charging",
            "Metal keychain clip included",
        ],
        None,
        "Sage Green",
    ),
    # --- q: stainless steel water bottle 32 oz ---
    "B0SAMPL005": (
        "us",
        "Trailmark Insulated Water Bottle 32 oz, Stainless Steel Wide Mouth with Straw Lid and Spout Lid, Leak Proof, Keeps Cold 24 Hrs",
        "<p>Built for long days on the trail and longer days at the desk.</p>"
        "<ul><li>Double-wall vacuum insulation keeps water ice cold for 24 hours and coffee hot for 12</li>"
        "<li>18/8 food-grade stainless steel, no metallic taste</li>"
        "<li>Two lids included: a flip straw lid and a leak-proof spout lid</li>"
        "<li>Powder coat finish that won&apos;t sweat or slip</li></ul>"
        "<p>Hand wash recommended. Not for carbonated drinks.</p>",
        [
            "32 OUNCE CAPACITY: enough water for a full morning hike",
            "STAYS COLD 24 HOURS: double-wall vacuum insulation, no condensation",
            "2 LIDS INCLUDED: straw lid for sipping, spout lid for gulping",
            "WIDE MOUTH: fits ice cubes and is easy to clean",
        ],
        "Trailmark",
        "Glacier Blue",
    ),
    "B0SAMPL006": (
        "us",
        "HydraPeak 32oz Vacuum Insulated Stainless Steel Water Bottle with Chug Cap, BPA Free, Dishwasher Safe, Charcoal",
        "The HydraPeak 32 oz bottle is our best seller for a reason. It is made from 18/8 stainless steel with a copper-lined double wall, "
        "so your drinks stay cold all day even in a hot car. The chug cap has a carry loop and a gasket that will not leak in your bag. "
        "Dishwasher safe, BPA free and backed by a lifetime warranty.",
        [
            "Keeps drinks cold for 24 hours, hot for 12 hours",
            "Chug cap with leak-proof gasket and carry loop",
            "Dishwasher safe body and lid",
            "Lifetime warranty",
        ],
        "HydraPeak",
        "Charcoal",
    ),
    "B0SAMPL007": (
        "us",
        "Trailmark Insulated Water Bottle 24 oz, Stainless Steel Standard Mouth with Twist Cap, Fits Most Cup Holders",
        None,
        [
            "24 oz capacity in a slim body that fits car cup holders",
            "Double-wall vacuum insulated stainless steel",
            "Twist cap with silicone seal",
        ],
        "Trailmark",
        "Sandstone",
    ),
    "B0SAMPL008": (
        "us",
        "Aquaday 32 oz Motivational Water Bottle with Time Marker and Straw, BPA Free Tritan Plastic, Leakproof Sports Bottle",
        "Drink more water without thinking about it. The printed time marker reminds you how much to drink by 9am, noon, 3pm and 6pm, "
        "so you reach your daily goal one sip at a time. Made of BPA free Tritan plastic that is light, shatter resistant and odor free. "
        "The one-click lid locks to prevent spills in your gym bag.",
        [
            "Time marker on the side to track daily water intake",
            "BPA free Tritan plastic, lightweight and durable",
            "Removable straw and one-click locking lid",
            "Carry strap included",
        ],
        "Aquaday",
        "Purple Gradient",
    ),
    "B0SAMPL009": (
        "us",
        "Replacement Straw Lid for Wide Mouth Water Bottles 32 oz 40 oz, with 2 Straws and Cleaning Brush",
        None,
        None,
        None,
        "Black",
    ),
    # --- q: dog bed for large dogs ---
    "B0SAMPL010": (
        "us",
        "Barkwell Orthopedic Dog Bed for Large Dogs, Egg Crate Memory Foam with Removable Washable Cover, Waterproof Liner, XL 42 x 30 inches",
        "<p><b>Give older joints a break.</b> Our 4-inch egg crate memory foam spreads your dog&apos;s weight evenly and relieves pressure on hips, "
        "elbows and shoulders.</p><p>The microsuede cover zips off and goes straight in the washing machine, and a waterproof inner liner "
        "protects the foam from accidents. Non-skid bottom keeps the bed in place on hardwood floors.</p>"
        "<p>Sized for Labradors, Golden Retrievers, German Shepherds and other dogs up to 100 lbs.</p>",
        [
            "ORTHOPEDIC SUPPORT: 4 inch egg crate memory foam for joint relief",
            "MACHINE WASHABLE: removable microsuede cover with YKK zipper",
            "WATERPROOF LINER protects the foam from drool and accidents",
            "XL SIZE 42 x 30 x 4 inches for dogs up to 100 lbs",
        ],
        "Barkwell",
        "Gray",
    ),
    "B0SAMPL011": (
        "us",
        "Barkwell Bolster Dog Bed Large, Calming Donut Cuddler with Raised Rim, Machine Washable, 36 inch, Mocha",
        "Dogs love to lean. The raised bolster rim gives your pup a place to rest its head while the plush center cushions the body. "
        "The whole bed fits in a standard front-load washer. Best for dogs up to 70 lbs that like to curl up.",
        [
            "Raised bolster for head and neck support",
            "Plush faux fur, calming for anxious dogs",
            "Machine washable and dryer safe on low",
            "36 inch diameter, fits dogs up to 70 lbs",
        ],
        "Barkwell",
        "Mocha",
    ),
    "B0SAMPL012": (
        "us",
        "PawPerch Elevated Cooling Dog Bed, Outdoor Raised Dog Cot with Breathable Mesh, Steel Frame, Large",
        "Keep your dog cool, dry and off the ground. The breathable textilene mesh lets air flow under your pet on hot days, and the "
        "powder coated steel frame holds up to 150 lbs. Assembly takes five minutes with no tools. Works indoors, on the patio or at the "
        "campsite, and cleans with a garden hose.",
        [
            "Breathable mesh keeps pets cool",
            "Steel frame supports up to 150 lbs",
            "No-tool assembly in minutes",
            "Non-slip rubber feet protect floors",
        ],
        "PawPerch",
        "Black",
    ),
    "B0SAMPL013": (
        "us",
        "Cozy Cat Cave Bed for Indoor Cats, Felt Hideaway with Removable Cushion, Small 16 inch",
        None,
        [
            "Handmade wool felt cave for cats and small dogs under 12 lbs",
            "Removable cushion",
            "Foldable for storage",
        ],
        "Whiskerden",
        "Light Gray",
    ),
    # --- q: usb c charger fast charging ---
    "B0SAMPL014": (
        "us",
        "Voltrek 65W USB C Charger, 3-Port GaN Fast Wall Charger with Foldable Plug for MacBook Air, iPad Pro, iPhone 15, Galaxy S23",
        "<p><b>One charger for everything in your bag.</b></p><p>Voltrek GaN technology packs 65W into a block the size of a phone charger. "
        "Charge a laptop, phone &amp; tablet at the same time: the smart chip shares power between the two USB-C ports and one USB-A port "
        "so every device gets its fastest safe speed.<br>Multi-layer protection guards against overheating, over-current and short circuits."
        "</p><p>Foldable prongs, 18-month warranty.</p>",
        [
            "65W FAST CHARGING: charges a 13-inch MacBook Air to 50% in about 30 minutes",
            "3 PORTS: 2 USB-C and 1 USB-A charge three devices at once",
            "GaN TECH: 40% smaller than standard 65W chargers",
            "FOLDABLE PLUG for travel",
            "SAFE: overheat, overcharge and short-circuit protection",
        ],
        "Voltrek",
        "White",
    ),
    "B0SAMPL015": (
        "us",
        "Voltrek 20W USB C Wall Charger, PD 3.0 Fast Charging Block for iPhone 15/14/13, iPad, AirPods, Compact Adapter",
        "Charge your iPhone from 0 to 50 percent in about 30 minutes. The compact Voltrek 20W adapter supports USB Power Delivery 3.0 and "
        "works with every USB-C cable. It is small enough to leave in a bag or travel pouch. Cable not included.",
        [
            "20W USB-C Power Delivery fast charging",
            "Charges iPhone 15 to 50% in about 30 minutes",
            "Compact size, fits in any pocket",
            "Cable not included",
        ],
        "Voltrek",
        None,
    ),
    "B0SAMPL016": (
        "us",
        "Voltrek USB C to USB C Cable 6ft 100W, Braided Fast Charging Cord for MacBook, iPad, Galaxy, Pixel, 2-Pack",
        None,
        [
            "100W power delivery for laptops, tablets and phones",
            "480Mbps data transfer",
            "Nylon braided, tested for 20,000 bends",
            "6 ft length, 2 cables per pack",
        ],
        "Voltrek",
        "Gray",
    ),
    "B0SAMPL017": (
        "us",
        "Ampwell USB Wall Charger 2-Pack, 12W Dual Port USB A Plug Adapter Cube for Phones and Tablets",
        "A simple, reliable dual port USB charger cube. Each port delivers up to 2.4A and the cube automatically adjusts output to the "
        "connected device. UL listed and fire retardant housing. Note: this is a USB-A charger and does not support USB-C fast charging.",
        [
            "Two USB-A ports, 12W total",
            "UL listed with overcurrent protection",
            "Pack of 2",
        ],
        "Ampwell",
        "White",
    ),
    "B0SAMPL018": (
        "us",
        "GripRide Car Phone Mount, Air Vent Phone Holder with One-Touch Release, Fits All Phones 4-7 inch",
        None,
        [
            "Strong vent clip with hook design does not slip",
            "One-touch release with one hand",
            "360 degree rotation",
            "Fits phones 4 to 7 inches, works with most cases",
        ],
        "GripRide",
        "Black",
    ),
    # --- q: cast iron skillet 12 inch ---
    "B0SAMPL019": (
        "us",
        "Ironhearth Pre-Seasoned Cast Iron Skillet 12 Inch, Oven Safe Frying Pan with Helper Handle and Pour Spouts",
        "<p>A 12-inch skillet that will outlive your kitchen.</p><p>Every Ironhearth pan is seasoned three times with vegetable oil, so it "
        "is ready to sear steaks, bake cornbread and fry eggs right out of the box. Cast iron holds heat evenly and works on gas, electric, "
        "induction, in the oven and over a campfire.<br><br><b>Care:</b> hand wash, dry immediately and rub with a thin layer of oil.</p>",
        [
            "12 inch diameter, large enough for a family meal",
            "Pre-seasoned with 100% vegetable oil, no synthetic coatings",
            "Works on induction, gas, electric, oven and campfire",
            "Helper handle and two pour spouts",
        ],
        "Ironhearth",
        "Black",
    ),
    "B0SAMPL020": (
        "us",
        "Ironhearth Pre-Seasoned Cast Iron Skillet 10.25 Inch, Heavy Duty Frying Pan for Stovetop, Oven and Grill",
        "The everyday size. Our 10.25-inch cast iron skillet is perfect for two to three servings, from a crisp grilled cheese to a skillet "
        "cookie. It comes pre-seasoned and only gets better with use. Safe in the oven up to any temperature and on every stovetop.",
        [
            "10.25 inch cooking surface",
            "Pre-seasoned and ready to use",
            "Oven safe, induction compatible",
        ],
        "Ironhearth",
        "Black",
    ),
    "B0SAMPL021": (
        "us",
        "IronCore Cast Iron Dumbbell 12 lb Single, Hex Grip Hand Weight for Home Gym Strength Training",
        None,
        [
            "Solid cast iron head with chrome plated handle",
            "Hexagon shape prevents rolling",
            "Sold as a single 12 lb dumbbell",
        ],
        "IronCore",
        "Black",
    ),
    "B0SAMPL022": (
        "us",
        "Cuisora 12 Inch Nonstick Frying Pan, Granite Coated Aluminum Skillet with Stay-Cool Handle, PFOA Free, Induction Compatible",
        "Eggs slide right off. The Cuisora 12-inch pan has a three-layer granite coating over a forged aluminum body that heats up fast and "
        "evenly. The bakelite handle stays cool on the stove and the magnetic base works on induction. Lighter than cast iron, so it is "
        "easy to toss vegetables or flip pancakes.",
        [
            "12 inch nonstick granite coated pan",
            "Forged aluminum heats quickly and evenly",
            "Stay-cool bakelite handle",
            "Works on all stovetops including induction",
        ],
        "Cuisora",
        "Granite Gray",
    ),
    # --- q: womens running shoes size 8 ---
    "B0SAMPL023": (
        "us",
        "Strideline Women's Pace Runner Road Running Shoes, Lightweight Breathable Mesh Athletic Sneakers",
        "The Pace Runner is made for everyday miles. A lightweight engineered mesh upper keeps your feet cool, and the responsive foam "
        "midsole returns energy with every step. A durable rubber outsole covers high-wear zones, so the shoe lasts through training "
        "season. True to size; choose a half size up if you have wide feet.",
        [
            "Engineered mesh upper for breathability",
            "Responsive foam midsole",
            "Rubber outsole in high-wear areas",
            "8 mm heel to toe drop",
        ],
        "Strideline",
        "Coral/White",
    ),
    "B0SAMPL024": (
        "us",
        "Strideline Women's Ridge Trail Running Shoes, Water Resistant Hiking Sneakers with Grippy Lugs",
        "<p><b>Confidence on any trail</b><br>The Ridge has 4mm multi-directional lugs that bite into mud, gravel and wet rock. A "
        "water-resistant upper sheds splashes while a gusseted tongue keeps out trail debris.</p><p><b>Fit:</b> standard width, true to "
        "size. Available in women&apos;s sizes 5 to 12, including half sizes.</p>",
        [
            "4mm lugs for traction on loose and wet terrain",
            "Water resistant upper",
            "Rock plate protects against sharp stones",
            "Gusseted tongue keeps debris out",
        ],
        "Strideline",
        "Slate/Teal",
    ),
    "B0SAMPL025": (
        "us",
        "Strideline Men's Pace Runner Road Running Shoes, Lightweight Breathable Athletic Sneakers",
        None,
        [
            "Men's sizing",
            "Engineered mesh upper",
            "Responsive foam midsole",
        ],
        "Strideline",
        "Black/Volt",
    ),
    "B0SAMPL026": (
        "us",
        "Easyfoot Women's Slip On Walking Shoes, Memory Foam Lightweight Casual Sneakers for Nurses and Travel",
        "Slip in and go. These knit walking shoes have a memory foam insole and a flexible sole that bends with your foot, so they stay "
        "comfortable through a long shift or a day of sightseeing. Machine washable on a gentle cycle.",
        [
            "Slip on knit upper, no laces",
            "Memory foam insole",
            "Flexible non-slip sole",
            "Machine washable",
        ],
        "Easyfoot",
        "Navy",
    ),
    # --- q: yoga mat thick ---
    "B0SAMPL027": (
        "us",
        "ZenFlow Extra Thick Yoga Mat 1/2 Inch, High Density NBR Exercise Mat with Carrying Strap for Pilates and Floor Workouts, 72 x 24",
        "<p>Cushion your knees, wrists and spine. At a full <b>1/2 inch</b> thick, the ZenFlow mat adds comfort for floor exercises, "
        "stretching and Pilates on hard floors.</p><ul><li>High density NBR foam springs back after use</li><li>Ribbed surface on both "
        "sides for grip</li><li>Elastic strap for easy carrying</li></ul><p>Wipe clean with mild soap and water.</p>",
        [
            "1/2 inch extra thick cushioning for joints",
            "72 x 24 inch size fits most people",
            "Double-sided non-slip texture",
            "Carrying strap included",
        ],
        "ZenFlow",
        "Lavender",
    ),
    "B0SAMPL028": (
        "us",
        "ZenFlow 6mm TPE Yoga Mat, Non Slip Eco Friendly Exercise Mat with Alignment Lines",
        "Our 6mm TPE mat balances cushioning and stability. It is thick enough to protect your knees but firm enough for balance poses. "
        "Printed alignment lines help you place hands and feet. Free of latex and PVC, lightweight and easy to roll.",
        [
            "6mm thickness, 183 x 61 cm",
            "TPE material, latex and PVC free",
            "Alignment lines for correct positioning",
        ],
        "ZenFlow",
        "Teal/Gray",
    ),
    "B0SAMPL029": (
        "us",
        "Plushstep Memory Foam Bath Mat Thick, Non Slip Absorbent Bathroom Rug, 17 x 24 inch",
        None,
        [
            "Thick memory foam for a soft feel underfoot",
            "Absorbent velvet surface",
            "Non slip backing",
            "Machine washable",
        ],
        "Plushstep",
        "Cream",
    ),
    "B0SAMPL030": (
        "us",
        "FlexiFloor Folding Gym Mat 4ft x 8ft x 2in, Tri-Fold Exercise Mat for Tumbling, Gymnastics and Home Workouts",
        "A thick folding mat for tumbling, martial arts and stretching. Two inches of firm EPE foam inside a tear-resistant PU leather "
        "cover. Hook and loop strips on both ends connect several mats together. Folds into a compact panel for storage under the bed.",
        [
            "2 inch thick EPE foam",
            "Folds in three panels",
            "Hook and loop connectors on both ends",
            "Wipe-clean PU leather cover",
        ],
        "FlexiFloor",
        "Blue",
    ),
    # --- q: laptop backpack 15.6 inch ---
    "B0SAMPL031": (
        "us",
        "Packrite Travel Laptop Backpack Fits 15.6 Inch Laptops, Water Resistant Business Bag with USB Charging Port and Anti-Theft Pocket",
        "<p><b>Organized, protected, ready to go.</b></p><ul><li>Padded laptop compartment fits laptops up to 15.6 inches</li><li>Built-in "
        "USB port lets you charge your phone on the move (power bank not included)</li><li>Hidden anti-theft pocket on the back panel "
        "for passport and wallet</li><li>Luggage strap slides over suitcase handles</li></ul><p>Water-resistant polyester fabric &amp; "
        "reinforced zippers.</p>",
        [
            "Fits up to 15.6 inch laptops in a padded sleeve",
            "External USB charging port with built-in cable",
            "Anti-theft hidden pocket",
            "Luggage strap for travel",
            "Water resistant fabric",
        ],
        "Packrite",
        "Black",
    ),
    "B0SAMPL032": (
        "us",
        "Packrite XL Laptop Backpack 17 Inch, Large Capacity Commuter Bag with Multiple Compartments",
        "Room for everything. The XL backpack holds a 17-inch laptop plus a tablet, chargers, a change of clothes and your lunch. Thick "
        "shoulder straps and a ventilated back panel keep heavy loads comfortable on long commutes. A trolley sleeve slides over "
        "suitcase handles, and a fleece-lined top pocket protects sunglasses and earbuds.",
        [
            "Holds laptops up to 17 inches",
            "35L capacity with 20 pockets",
            "Padded, breathable back panel",
        ],
        "Packrite",
        "Dark Gray",
    ),
    "B0SAMPL033": (
        "us",
        "Slimcase 15.6 Inch Laptop Sleeve, Shockproof Neoprene Carrying Case with Accessory Pocket",
        None,
        [
            "Fits 15 to 15.6 inch laptops",
            "Shockproof neoprene padding",
            "Front pocket for charger and mouse",
        ],
        "Slimcase",
        "Heather Gray",
    ),
    "B0SAMPL034": (
        "us",
        "Kids Unicorn School Backpack with Lunch Box Set, Girls Bookbag for Kindergarten and Elementary, 16 inch",
        "Back to school in style. This set includes a 16-inch backpack with a rainbow unicorn print, a matching insulated lunch box and "
        "a pencil case. Padded straps adjust as your child grows, and the reflective strip on the front helps drivers see kids "
        "on dark winter mornings. Wipe clean with a damp cloth.",
        [
            "3 piece set: backpack, lunch box, pencil case",
            "Adjustable padded shoulder straps",
            "Recommended for ages 5 to 10",
        ],
        "Brightpack",
        "Pink",
    ),
    # --- q: coffee grinder electric ---
    "B0SAMPL035": (
        "us",
        "Brewmill Electric Burr Coffee Grinder with 18 Grind Settings, Conical Burr Mill for Espresso, Drip and French Press",
        "<p>Great coffee starts with an even grind.</p><p>The Brewmill conical burr grinder crushes beans into uniform particles "
        "instead of chopping them, so your coffee tastes balanced, not bitter. Choose from 18 settings, from fine espresso to coarse "
        "French press, and select 2 to 12 cups.<br><br><b>Includes:</b> removable upper burr for cleaning, cleaning brush, 8 oz bean "
        "hopper.</p>",
        [
            "Conical burrs for a uniform grind",
            "18 settings from espresso to French press",
            "Cup selector for 2 to 12 cups",
            "Removable burr and chamber for easy cleaning",
        ],
        "Brewmill",
        "Black",
    ),
    "B0SAMPL036": (
        "us",
        "Brewmill Electric Coffee and Spice Grinder, Stainless Steel Blade Grinder with Removable Bowl",
        "Fast, simple grinding for coffee beans, spices, seeds and nuts. The removable stainless steel bowl can go in the dishwasher. "
        "Press the lid to grind and release to stop, so you control the texture. A clear lid lets you watch the grind, and the "
        "cord wraps around the base for tidy storage in a drawer or cabinet.",
        [
            "Stainless steel blades",
            "Removable dishwasher safe bowl",
            "Grinds up to 12 cups of coffee",
        ],
        "Brewmill",
        "Silver",
    ),
    "B0SAMPL037": (
        "us",
        "Handgrove Manual Coffee Grinder, Hand Crank Ceramic Burr Mill with Adjustable Settings, Portable for Camping",
        None,
        [
            "Ceramic conical burr",
            "Adjustable coarseness",
            "No electricity needed",
            "Compact for travel and camping",
        ],
        "Handgrove",
        "Stainless Steel",
    ),
    "B0SAMPL038": (
        "us",
        "Morning Ridge Coffee Whole Bean Medium Roast, 2 lb Bag, Single Origin Colombian Arabica",
        "A smooth, balanced medium roast with notes of milk chocolate, caramel and a hint of orange. Our beans come from small farms in "
        "the Huila region of Colombia and are roasted in small batches in Vermont. Grind just before brewing for the best flavor.",
        [
            "Whole bean medium roast",
            "100% Colombian Arabica",
            "2 lb resealable bag with one-way valve",
        ],
        "Morning Ridge Coffee",
        None,
    ),
    # --- q: led strip lights for bedroom ---
    "B0SAMPL039": (
        "us",
        "Glowza 50ft LED Strip Lights for Bedroom, RGB Color Changing Light Strip with App Control, Remote and Music Sync",
        "<p><b>Set the mood in seconds</b></p><p>Pick from 16 million colors in the Glowza app, set timers and schedules, or let the "
        "built-in mic sync the lights to your music.<br>Two 25ft rolls with strong 3M adhesive backing, cuttable every 3 LEDs.</p>"
        "<p><b>Package:</b> 2 x 25ft strips, controller, 24-key remote, power adapter.</p>",
        [
            "50 ft total length (2 rolls of 25 ft)",
            "App and remote control, 16 million colors",
            "Music sync with built-in microphone",
            "Cuttable and self-adhesive",
        ],
        "Glowza",
        "RGB",
    ),
    "B0SAMPL040": (
        "us",
        "Glowza LED Strip Lights 16.4ft, USB Powered RGB Light Strip with Remote for TV, Bedroom and Desk",
        None,
        [
            "16.4 ft USB powered strip",
            "20 colors and 8 lighting modes",
            "Remote included",
        ],
        "Glowza",
        "RGB",
    ),
    "B0SAMPL041": (
        "us",
        "L Shape LED Strip Corner Connectors 10 Pack, 4 Pin Solderless Connector for 10mm RGB Light Strips",
        None,
        None,
        None,
        None,
    ),
    "B0SAMPL042": (
        "us",
        "Duskline Blackout Curtains for Bedroom, Thermal Insulated Grommet Window Drapes, 52 x 84 inch, Set of 2 Panels",
        "Sleep later on weekends. Triple-weave fabric blocks up to 99% of sunlight and helps keep rooms cooler in summer and warmer in "
        "winter. Each panel has eight silver grommets that fit rods up to 1.6 inches in diameter. Machine wash cold on a gentle cycle and tumble "
        "dry low; no ironing needed.",
        [
            "Blocks up to 99% of light",
            "Thermal insulated triple weave",
            "2 panels, 52 x 84 inches each",
        ],
        "Duskline",
        "Navy Blue",
    ),
    "B0SAMPL043": (
        "us",
        "Twinklebay Fairy String Lights Warm White, 33ft 100 LED Copper Wire Lights with USB Plug for Bedroom and Party Decor",
        "Soft, warm light for bedrooms, mason jars and dinner tables. The thin copper wire bends into any shape and the tiny LEDs stay "
        "cool to the touch. Plug into any USB port or power bank, and use the inline switch to pick steady, twinkle or "
        "fade. Safe for kids&apos; rooms and dorms.",
        [
            "33 ft with 100 warm white LEDs",
            "Flexible copper wire",
            "USB powered",
        ],
        "Twinklebay",
        "Warm White",
    ),
    # --- q: iphone 14 case ---
    "B0SAMPL044": (
        "us",
        "Clearshield Clear Case for iPhone 14, Shockproof Slim Phone Case with Anti-Yellowing TPU Bumper, 6.1 Inch",
        "Show off your iPhone color while keeping it safe. Air-cushioned corners absorb shock from drops up to 10 feet, and the raised "
        "lip protects the camera and screen when the phone lies flat. Special coating resists yellowing over time. Precise "
        "cutouts fit all ports and buttons, and the slim profile works with MagSafe chargers.",
        [
            "Designed for iPhone 14 (6.1 inch) only",
            "Military grade drop protection",
            "Anti-yellowing clear back",
            "Raised edges protect screen and camera",
        ],
        "Clearshield",
        "Clear",
    ),
    "B0SAMPL045": (
        "us",
        "Clearshield Wallet Case for iPhone 14 with Card Holder, PU Leather Flip Cover with Kickstand and RFID Blocking",
        "<p>Leave the wallet at home.</p><p>Three card slots and a cash pocket hold everything you need for the day, and RFID blocking "
        "keeps your cards safe. The cover folds into a stand for watching videos.<br><b>Note:</b> magnetic clasp; keep away from hotel "
        "key cards.</p>",
        [
            "Fits iPhone 14 6.1 inch",
            "3 card slots and cash pocket",
            "Kickstand for hands-free viewing",
            "RFID blocking lining",
        ],
        "Clearshield",
        "Brown",
    ),
    "B0SAMPL046": (
        "us",
        "Clearshield Screen Protector for iPhone 14 Tempered Glass, 3 Pack, Easy Install Frame, Bubble Free",
        None,
        [
            "9H hardness tempered glass",
            "Installation frame for perfect alignment",
            "Case friendly",
            "3 pack",
        ],
        "Clearshield",
        None,
    ),
    "B0SAMPL047": (
        "us",
        "Clearshield Case for Samsung Galaxy S23, Slim Matte Protective Cover with Camera Protection",
        None,
        [
            "Compatible with Samsung Galaxy S23 only",
            "Matte finish resists fingerprints",
            "Raised camera ring",
        ],
        "Clearshield",
        "Black",
    ),
    # --- q (test): noise cancelling headphones over ear ---
    "B0SAMPL048": (
        "us",
        "Sonivo Quiet 700 Active Noise Cancelling Headphones Over Ear, Wireless Bluetooth Headphones with 40H Playtime and Hi-Res Audio",
        "<p><b>Tune out the world.</b></p><p>Hybrid active noise cancelling uses six microphones to reduce engine hum, office chatter "
        "and traffic noise. Switch to transparency mode with one tap when you need to hear an announcement.<br><br>Memory foam ear cushions "
        "and a padded headband stay comfortable on long flights, and one charge lasts 40 hours.</p>",
        [
            "Hybrid ANC reduces noise up to 35 dB",
            "40 hours of playtime with ANC off, 30 with ANC on",
            "Memory foam over-ear cushions",
            "Transparency mode and multipoint connection",
        ],
        "Sonivo",
        "Midnight Black",
    ),
    "B0SAMPL049": (
        "us",
        "Kestrel Audio Hush Noise Cancelling Wireless Headphones, Foldable Over Ear Headphones with Mic and Travel Case",
        "The Hush folds flat into its hard travel case, so it is always ready to go in a carry-on. Active noise cancelling removes low "
        "frequency noise on planes and trains, and a 3.5 mm cable lets you plug into in-flight entertainment when the battery runs out.",
        [
            "Active noise cancellation",
            "Folds flat into hard travel case",
            "25 hour battery life",
            "Includes 3.5 mm audio cable",
        ],
        "Kestrel Audio",
        "Silver",
    ),
    "B0SAMPL050": (
        "us",
        "Sonivo Air Pro ANC Noise Cancelling Earbuds, Wireless In-Ear Headphones with Transparency Mode",
        None,
        [
            "Active noise cancelling in-ear design",
            "Transparency mode",
            "28 hours total with charging case",
        ],
        "Sonivo",
        "Black",
    ),
    "B0SAMPL051": (
        "us",
        "Deskcraft Aluminum Headphone Stand, Headset Holder with Weighted Base for Desk, Universal",
        "A clean spot for your headphones. Solid aluminum with a weighted, non-slip base that will not tip over. The curved top and "
        "silicone pad protect the headband from dents. A cable organizer in the back keeps cords off your desk, and the stand "
        "fits gaming headsets and studio headphones alike.",
        [
            "Solid aluminum construction",
            "Weighted non-slip base",
            "Fits all over-ear headphones",
        ],
        "Deskcraft",
        "Space Gray",
    ),
    # --- q (test): air fryer 6 quart ---
    "B0SAMPL052": (
        "us",
        "Cuisora 6 Quart Air Fryer, 7-in-1 Digital Air Fryer with Touch Screen, Nonstick Basket, Dishwasher Safe, 1700W",
        "<p><b>Crispy food, 85% less oil.</b></p><p>The 6-quart basket fits a whole 4 lb chicken or two pounds of fries, enough for a "
        "family of four. Seven one-touch presets take the guesswork out of wings, fish, vegetables, bacon, steak, shrimp and "
        "reheating.<br>A shake reminder beeps halfway through cooking for even results.</p><p>Nonstick basket and crisper plate are "
        "dishwasher safe.</p>",
        [
            "6 quart capacity for 3 to 5 people",
            "7 one-touch presets",
            "Temperature range 180 to 400 F",
            "Dishwasher safe basket",
        ],
        "Cuisora",
        "Black",
    ),
    "B0SAMPL053": (
        "us",
        "Heatwise 6-Quart Air Fryer with Viewing Window, Compact Digital Air Fryer Oven with Shake Reminder",
        "Watch your food crisp without opening the basket. The Heatwise air fryer has a large viewing window and an internal light, "
        "so you can check progress and stop at exactly the right moment. Six quarts of capacity in a footprint smaller than a "
        "toaster oven.",
        [
            "6 quart basket",
            "Viewing window with internal light",
            "Shake reminder",
        ],
        "Heatwise",
        "Gray",
    ),
    "B0SAMPL054": (
        "us",
        "Heatwise 4 Quart Compact Air Fryer, Small Air Fryer for 1-2 People with Dial Controls",
        None,
        [
            "4 quart capacity for 1 to 2 people",
            "Simple dial controls",
            "Compact size for small kitchens",
        ],
        "Heatwise",
        "White",
    ),
    "B0SAMPL055": (
        "us",
        "Air Fryer Disposable Paper Liners 100 PCS, Non-Stick Parchment Paper for 5-8 Qt Air Fryers, Round 7.9 inch",
        None,
        None,
        None,
        None,
    ),
    # --- q (test): bamboo cutting board set ---
    "B0SAMPL056": (
        "us",
        "Greenleaf Kitchen Bamboo Cutting Boards Set of 3 with Juice Grooves and Handles, Small, Medium & Large",
        "<p><b>Three sizes for every job.</b></p><p>Use the large board for carving roasts, the medium for chopping vegetables and the "
        "small one for cheese, fruit &amp; bread. Organic bamboo is harder than maple and gentle on knife edges.</p><ul><li>Deep juice "
        "grooves catch liquids</li><li>Built-in handles for serving</li><li>Hand wash only</li></ul>",
        [
            "Set of 3 bamboo boards: 15x10, 12x8 and 9x6 inches",
            "Deep juice grooves",
            "Built-in side handles",
            "Hand wash and oil occasionally",
        ],
        "Greenleaf Kitchen",
        "Natural",
    ),
    "B0SAMPL057": (
        "us",
        "Greenleaf Kitchen Extra Large Bamboo Cutting Board 24 x 18 Inch, Butcher Block for Turkey and Brisket",
        "A big board for big jobs. At 24 by 18 inches, it handles a Thanksgiving turkey, a whole brisket or a full tray of vegetables. "
        "Non-slip rubber feet keep it steady on the counter. The reversible design gives you a flat side for bread and "
        "cheese and a grooved side for juicy meats.",
        [
            "24 x 18 inch cutting surface",
            "Non-slip feet",
            "Juice groove on one side",
        ],
        "Greenleaf Kitchen",
        "Natural",
    ),
    "B0SAMPL058": (
        "us",
        "Softmoon Bamboo Bed Sheets Queen Size, Cooling Viscose from Bamboo Sheet Set, 4 Piece, Deep Pocket",
        "Silky, breathable and cool to the touch. Our viscose from bamboo sheets wick moisture away so you stay comfortable on warm nights. "
        "Deep pockets fit mattresses up to 16 inches. The sheets get softer with every wash and resist wrinkles, so they look "
        "neat even straight out of the dryer.",
        [
            "Queen set: flat sheet, fitted sheet, 2 pillowcases",
            "Cooling viscose from bamboo",
            "Fits mattresses up to 16 inches deep",
        ],
        "Softmoon",
        "Sage",
    ),
    "B0SAMPL059": (
        "us",
        "Prepmate Plastic Cutting Board Set of 4, Color Coded Dishwasher Safe Chopping Boards with Food Icons",
        None,
        [
            "4 color coded boards with food icons",
            "Dishwasher safe",
            "Non-slip edges",
        ],
        "Prepmate",
        "Multicolor",
    ),
    # --- q (test): mens winter gloves ---
    "B0SAMPL060": (
        "us",
        "Northpine Men's Winter Gloves Insulated Waterproof, Touchscreen Thermal Gloves for Cold Weather, Snow and Driving",
        "Stay warm without taking your gloves off to use your phone. Thinsulate insulation and a fleece lining trap heat, while a "
        "waterproof membrane keeps snow out. Touchscreen pads on the thumb and index finger work on phones and car screens.",
        [
            "Thinsulate insulation with fleece lining",
            "Waterproof and windproof",
            "Touchscreen thumb and index finger",
            "Silicone grip palm",
        ],
        "Northpine",
        "Black",
    ),
    "B0SAMPL061": (
        "us",
        "Northpine Men's Leather Gloves, Fleece Lined Winter Driving Gloves, Genuine Lambskin",
        "<p>Classic lambskin gloves with a modern fit.</p><p>Soft genuine leather outside, warm fleece lining inside. Touchscreen "
        "compatible fingertips let you answer a call without exposing your hands to the cold.<br></br>A short elastic wrist "
        "keeps the wind out. Sizes run slightly small; see the size chart before ordering.</p>",
        [
            "Genuine lambskin leather",
            "Warm fleece lining",
            "Touchscreen fingertips",
        ],
        "Northpine",
        "Brown",
    ),
    "B0SAMPL062": (
        "us",
        "Cozyknit Women's Winter Knit Gloves, Warm Cable Knit Touchscreen Gloves with Fleece Lining",
        None,
        [
            "Women's size, one size fits most",
            "Cable knit with fleece lining",
            "Touchscreen fingertips",
        ],
        "Cozyknit",
        "Cream",
    ),
    "B0SAMPL063": (
        "us",
        "Safehand Nitrile Disposable Gloves, Powder Free, Latex Free, 100 Count, Large",
        "Strong, comfortable nitrile gloves for cleaning, food prep, painting and home care. Powder free and latex free for people with "
        "latex allergies. Textured fingertips improve grip on wet surfaces, and the 4 mil thickness resists tears when you "
        "handle cleaning chemicals or raw meat. Ambidextrous fit.",
        None,
        "Safehand",
        "Blue",
    ),
    # --- es locale ---
    "B0SAMPL101": (
        "es",
        "Strideline Zapatillas de Running para Mujer, Ligeras y Transpirables, Suela de Goma Antideslizante",
        "Las Pace Runner están pensadas para tus kilómetros diarios. La malla transpirable mantiene los pies frescos y la mediasuela "
        "de espuma devuelve energía en cada zancada. Talla fiel; si tienes el pie ancho, elige media talla más.",
        [
            "Malla técnica transpirable",
            "Mediasuela de espuma reactiva",
            "Suela de goma antideslizante",
        ],
        "Strideline",
        "Coral",
    ),
    "B0SAMPL102": (
        "es",
        "Velóz Zapatillas Deportivas Mujer Running Asfalto con Amortiguación, Gimnasio y Caminar",
        None,
        [
            "Amortiguación en el talón",
            "Plantilla extraíble",
            "Peso: 230 g (talla 38)",
        ],
        "Velóz",
        "Negro",
    ),
    "B0SAMPL103": (
        "es",
        "Easyfoot Zapatillas de Caminar para Mujer sin Cordones, Plantilla de Espuma Viscoelástica",
        None,
        [
            "Sin cordones, fáciles de poner",
            "Plantilla viscoelástica",
            "Lavables a máquina",
        ],
        "Easyfoot",
        None,
    ),
    "B0SAMPL104": (
        "es",
        "Clearshield Funda para Samsung Galaxy A54 5G, Silicona Líquida con Protección de Cámara, Tacto Suave",
        "Funda de silicona líquida con interior de microfibra que protege el móvil de golpes y arañazos. El borde elevado protege la "
        "cámara y la pantalla. Compatible con carga inalámbrica.",
        [
            "Solo para Samsung Galaxy A54 5G",
            "Silicona líquida con interior de microfibra",
            "Borde elevado para cámara y pantalla",
        ],
        "Clearshield",
        "Azul Marino",
    ),
    "B0SAMPL105": (
        "es",
        "Clearshield Protector de Pantalla para Samsung Galaxy A54, Cristal Templado 9H, Pack de 3",
        None,
        [
            "Dureza 9H",
            "Compatible con funda",
            "Pack de 3 unidades",
        ],
        "Clearshield",
        None,
    ),
    "B0SAMPL106": (
        "es",
        "Funda para iPhone 13 con Tarjetero, Piel Sintética, Tapa Magnética",
        None,
        None,
        "Cartera Móvil",
        "Marrón",
    ),
    # --- jp locale ---
    "B0SAMPL201": (
        "jp",
        "【2024年モデル】ワイヤレスイヤホン ノイズキャンセリング Bluetooth 5.3 最大36時間再生 IPX5防水 マイク付き",
        "通勤や作業中の雑音をしっかり低減するアクティブノイズキャンセリング搭載。外音取り込みモードに切り替えれば、駅のアナウンスも聞き逃しません。"
        "ケース併用で最大36時間再生できます。",
        [
            "アクティブノイズキャンセリング搭載",
            "最大36時間再生（ケース併用）",
            "IPX5防水で雨や汗にも安心",
            "片耳モード対応",
        ],
        "Sonivo",
        "ブラック",
    ),
    "B0SAMPL202": (
        "jp",
        "有線イヤホン カナル型 3.5mm マイク付き 高音質 リモコン付き",
        None,
        [
            "3.5mmプラグ",
            "通話用マイク付き",
            "絡みにくいケーブル",
        ],
        "Lumetra",
        None,
    ),
    "B0SAMPL203": (
        "jp",
        "イヤーピース シリコン 交換用 S/M/L 各2ペア 低反発",
        None,
        None,
        None,
        None,
    ),
    "B0SAMPL204": (
        "jp",
        "電気ケトル 1.0L ステンレス 温度調節 保温機能 空焚き防止",
        "60℃から100℃まで5段階の温度調節が可能。お茶やコーヒーに合わせた温度で淹れられます。保温機能付き。",
        [
            "容量1.0L",
            "5段階温度調節",
            "30分保温機能",
            "空焚き防止機能",
        ],
        "Kettlia",
        "シルバー",
    ),
    "B0SAMPL205": (
        "jp",
        "電気ケトル おしゃれ 1L 細口 ドリップ コーヒー用",
        None,
        [
            "細口ノズルでハンドドリップに最適",
            "容量1L",
        ],
        "Kettlia",
        "マットブラック",
    ),
    "B0SAMPL206": (
        "jp",
        "炊飯器 3合 マイコン式 一人暮らし 早炊き",
        None,
        [
            "3合炊き",
            "早炊きモード",
            "内釜フッ素加工",
        ],
        "Kometaki",
        "ホワイト",
    ),
}

# Queries: (query, locale, split, [(product_id, esci_label), ...]).
# A query's rows all sit in one split, as in the real files.
ESCI_QUERIES: list[tuple] = [
    ("wireless earbuds for iphone", "us", "train",
     [("B0SAMPL001", "E"), ("B0SAMPL002", "E"), ("B0SAMPL003", "S"), ("B0SAMPL004", "C")]),
    ("stainless steel water bottle 32 oz", "us", "train",
     [("B0SAMPL005", "E"), ("B0SAMPL006", "E"), ("B0SAMPL007", "S"), ("B0SAMPL008", "S"), ("B0SAMPL009", "C")]),
    ("dog bed for large dogs", "us", "train",
     [("B0SAMPL010", "E"), ("B0SAMPL011", "E"), ("B0SAMPL012", "S"), ("B0SAMPL013", "I")]),
    ("usb c charger fast charging", "us", "train",
     [("B0SAMPL014", "E"), ("B0SAMPL015", "E"), ("B0SAMPL016", "C"), ("B0SAMPL017", "S"), ("B0SAMPL018", "I")]),
    ("cast iron skillet 12 inch", "us", "train",
     [("B0SAMPL019", "E"), ("B0SAMPL020", "S"), ("B0SAMPL021", "I"), ("B0SAMPL022", "S")]),
    ("womens running shoes size 8", "us", "train",
     [("B0SAMPL023", "E"), ("B0SAMPL024", "E"), ("B0SAMPL025", "I"), ("B0SAMPL026", "S")]),
    ("yoga mat thick", "us", "train",
     [("B0SAMPL027", "E"), ("B0SAMPL028", "E"), ("B0SAMPL029", "I"), ("B0SAMPL030", "S")]),
    ("laptop backpack 15.6 inch", "us", "train",
     [("B0SAMPL031", "E"), ("B0SAMPL032", "S"), ("B0SAMPL033", "S"), ("B0SAMPL034", "I")]),
    ("coffee grinder electric", "us", "train",
     [("B0SAMPL035", "E"), ("B0SAMPL036", "E"), ("B0SAMPL037", "S"), ("B0SAMPL038", "C")]),
    ("led strip lights for bedroom", "us", "train",
     [("B0SAMPL039", "E"), ("B0SAMPL040", "E"), ("B0SAMPL041", "C"), ("B0SAMPL042", "I"), ("B0SAMPL043", "S")]),
    ("iphone 14 case", "us", "train",
     [("B0SAMPL044", "E"), ("B0SAMPL045", "E"), ("B0SAMPL046", "C"), ("B0SAMPL047", "I")]),
    ("noise cancelling headphones over ear", "us", "test",
     [("B0SAMPL048", "E"), ("B0SAMPL049", "E"), ("B0SAMPL050", "S"), ("B0SAMPL051", "C")]),
    ("air fryer 6 quart", "us", "test",
     [("B0SAMPL052", "E"), ("B0SAMPL053", "E"), ("B0SAMPL054", "S"), ("B0SAMPL055", "C")]),
    ("bamboo cutting board set", "us", "test",
     [("B0SAMPL056", "E"), ("B0SAMPL057", "S"), ("B0SAMPL058", "I"), ("B0SAMPL059", "S")]),
    ("mens winter gloves", "us", "test",
     [("B0SAMPL060", "E"), ("B0SAMPL061", "E"), ("B0SAMPL062", "I"), ("B0SAMPL063", "I")]),
    ("zapatillas running mujer", "es", "train",
     [("B0SAMPL101", "E"), ("B0SAMPL102", "E"), ("B0SAMPL103", "S")]),
    ("funda samsung a54", "es", "test",
     [("B0SAMPL104", "E"), ("B0SAMPL105", "C"), ("B0SAMPL106", "I")]),
    ("ワイヤレスイヤホン ノイズキャンセリング", "jp", "train",
     [("B0SAMPL201", "E"), ("B0SAMPL202", "S"), ("B0SAMPL203", "C")]),
    ("電気ケトル 1l", "jp", "test",
     [("B0SAMPL204", "E"), ("B0SAMPL205", "E"), ("B0SAMPL206", "I")]),
]


def build_esci(out: Path) -> tuple[int, int]:
    ex_rows = []
    example_id = 7_310_000
    for qi, (query, locale, split, items) in enumerate(ESCI_QUERIES):
        query_id = 880_000 + 37 * qi
        for pid, label in items:
            example_id += 1
            ex_rows.append(
                {
                    "example_id": example_id,
                    "query": query,
                    "query_id": query_id,
                    "product_id": pid,
                    "product_locale": locale,
                    "esci_label": label,
                    "small_version": 1,
                    "large_version": 1,
                    "split": split,
                }
            )
    examples = pd.DataFrame(ex_rows)
    for col in ("example_id", "query_id", "small_version", "large_version"):
        examples[col] = examples[col].astype("int64")

    prod_rows = []
    for pid, (locale, title, desc, bullets, brand, color) in PRODUCTS.items():
        prod_rows.append(
            {
                "product_id": pid,
                "product_title": title,
                "product_description": desc,
                "product_bullet_point": "\n".join(bullets) if bullets else None,
                "product_brand": brand,
                "product_color": color,
                "product_locale": locale,
            }
        )
    products = pd.DataFrame(prod_rows)

    (out / "esci").mkdir(parents=True, exist_ok=True)
    examples.to_parquet(out / "esci" / "shopping_queries_dataset_examples.parquet", index=False, compression="snappy")
    products.to_parquet(out / "esci" / "shopping_queries_dataset_products.parquet", index=False, compression="snappy")
    return len(examples), len(products)


# ---------------------------------------------------------------------------
# 2. QueryNER (CoNLL, token<TAB>tag, BIO)
# ---------------------------------------------------------------------------
# Each query: space-separated "token/TAG" pairs; TAG is B-x, I-x or O. Split on the LAST "/"
# so tokens may contain "/".

QUERYNER = {
    "train": [
        "bamboo/B-material toothbrush/B-core_product_type soft/B-modifier bristles/I-modifier",
        "red/B-color rain/B-core_product_type boots/I-core_product_type for/B-department toddler/I-department girls/I-department",
        "kitchenaid/B-creator stand/B-core_product_type mixer/I-core_product_type attachments/I-core_product_type",
        "24/B-quantity pack/I-quantity aa/B-core_product_type batteries/I-core_product_type",
        "refurbished/B-condition ipad/B-product_name air/I-product_name 64gb/B-UoM",
        "mens/B-department linen/B-material shirt/B-core_product_type short/B-modifier sleeve/I-modifier",
        "harry/B-content potter/I-content lego/B-creator sets/B-core_product_type",
        "round/B-shape glass/B-material coffee/B-core_product_type table/I-core_product_type",
        "halloween/B-occasion costumes/B-core_product_type for/B-department teens/I-department",
        "italian/B-origin olive/B-core_product_type oil/I-core_product_type extra/B-modifier virgin/I-modifier",
        "under/B-price $25/I-price gifts/B-core_product_type for/B-department dad/I-department",
        "90s/B-time band/B-content t/B-core_product_type shirts/I-core_product_type",
        "canon/B-creator lp-e6/B-product_number battery/B-core_product_type",
        "queen/B-UoM size/I-UoM mattress/B-core_product_type topper/I-core_product_type",
        "stephen/B-creator king/I-creator paperback/B-modifier books/B-core_product_type",
        "navy/B-color blue/I-color velvet/B-material accent/B-core_product_type chair/I-core_product_type",
        "used/B-condition textbooks/B-core_product_type nursing/B-content",
        "birthday/B-occasion party/I-occasion balloons/B-core_product_type gold/B-color",
        "3/B-UoM inch/I-UoM binder/B-core_product_type",
        "nike/B-creator air/B-product_name force/I-product_name 1/I-product_name white/B-color",
        "heart/B-shape shaped/I-shape cake/B-core_product_type pan/I-core_product_type",
        "mexican/B-origin vanilla/B-core_product_type extract/I-core_product_type",
        "vintage/B-time brass/B-material candle/B-core_product_type holders/I-core_product_type",
        "cheap/B-price phone/B-core_product_type cases/I-core_product_type",
        "6/B-quantity pack/I-quantity mens/B-department boxer/B-core_product_type briefs/I-core_product_type",
        "waterproof/B-modifier hiking/B-occasion boots/B-core_product_type womens/B-department",
        "dewalt/B-creator dcd771c2/B-product_number drill/B-core_product_type",
        "baby/B-department shark/B-content toys/B-core_product_type",
        "ceramic/B-material planters/B-core_product_type with/B-modifier drainage/I-modifier holes/I-modifier",
        "gluten/B-modifier free/I-modifier pasta/B-core_product_type",
        "wedding/B-occasion guest/I-occasion dresses/B-core_product_type plus/B-UoM size/I-UoM",
        "rectangle/B-shape tablecloth/B-core_product_type 60/B-UoM x/I-UoM 120/I-UoM",
        "open/B-condition box/I-condition air/B-core_product_type purifier/I-core_product_type",
        "best/O wireless/B-modifier mouse/B-core_product_type for/B-modifier mac/I-modifier",
        "christmas/B-occasion tree/B-core_product_type skirt/I-core_product_type 48/B-UoM inch/I-UoM",
        "japanese/B-origin chef/B-core_product_type knife/I-core_product_type",
        "star/B-content wars/I-content bedding/B-core_product_type twin/B-UoM",
        "organic/B-modifier green/B-core_product_type tea/I-core_product_type 100/B-quantity bags/I-quantity",
        "samsung/B-creator galaxy/B-product_name s23/I-product_name ultra/I-product_name charger/B-core_product_type",
        "pink/B-color cordless/B-modifier hair/B-core_product_type dryer/I-core_product_type",
    ],
    "dev": [
        "wool/B-material hiking/B-occasion socks/B-core_product_type for/B-department men/I-department",
        "sony/B-creator wf-c700n/B-product_number earbuds/B-core_product_type",
        "white/B-color dresser/B-core_product_type 6/B-modifier drawer/I-modifier",
        "thanksgiving/B-occasion napkins/B-core_product_type cloth/B-material",
        "korean/B-origin sheet/B-core_product_type masks/I-core_product_type",
        "renewed/B-condition kindle/B-product_name paperwhite/I-product_name",
        "oval/B-shape bathroom/B-modifier mirror/B-core_product_type",
        "2/B-UoM lb/I-UoM ankle/B-core_product_type weights/I-core_product_type",
        "frozen/B-content backpack/B-core_product_type for/B-department girls/I-department",
        "retro/B-time record/B-core_product_type player/I-core_product_type bluetooth/B-modifier",
    ],
    "test": [
        "leather/B-material watch/B-core_product_type band/I-core_product_type 22mm/B-UoM",
        "graduation/B-occasion cap/B-core_product_type and/O gown/B-core_product_type",
        "ninja/B-creator blender/B-core_product_type replacement/B-modifier blade/I-modifier",
        "black/B-color ankle/B-core_product_type boots/I-core_product_type women/B-department",
        "12/B-quantity count/I-quantity k/B-core_product_type cups/I-core_product_type decaf/B-modifier",
        "hex/B-shape floor/B-core_product_type tiles/I-core_product_type",
        "irish/B-origin wool/B-material sweater/B-core_product_type",
        "pre/B-condition owned/I-condition golf/B-core_product_type clubs/I-core_product_type",
        "mario/B-content kart/I-content nintendo/B-creator switch/B-product_name",
        "stainless/B-material steel/I-material measuring/B-core_product_type cups/I-core_product_type nesting/B-modifier",
        "clearance/B-price patio/B-core_product_type furniture/I-core_product_type",
        "brother/B-creator tn830/B-product_number toner/B-core_product_type",
        "1970s/B-time floor/B-core_product_type lamp/I-core_product_type",
        "toddler/B-department bed/B-core_product_type rails/I-core_product_type",
        "purple/B-color yoga/B-core_product_type pants/I-core_product_type high/B-modifier waisted/I-modifier",
        "5/B-UoM gallon/I-UoM bucket/B-core_product_type with/B-modifier lid/I-modifier",
    ],
}


def _parse_tagged(q: str) -> list[tuple[str, str]]:
    pairs = []
    for item in q.split(" "):
        tok, tag = item.rsplit("/", 1)
        pairs.append((tok, tag))
    return pairs


def build_queryner(out: Path) -> dict[str, int]:
    d = out / "queryner"
    d.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, queries in QUERYNER.items():
        chunks = []
        for q in queries:
            pairs = _parse_tagged(q)
            chunks.append("".join(f"{tok}\t{tag}\n" for tok, tag in pairs) + "\n")
        # Like the real files: every query (the last one included) is followed by one blank
        # line, so the file ends with "\n\n".
        with open(d / f"{split}.txt", "w", encoding="utf-8", newline="\n") as f:
            f.write("".join(chunks))
        counts[split] = len(queries)
    return counts


# ---------------------------------------------------------------------------
# 3. FewSum Amazon (TSV with .csv name)
# ---------------------------------------------------------------------------
# Each product: (cat, group_id, [8 reviews], [3 summaries], [8 ratings]).

FEWSUM = {
    "train": [
        (
            "cloth",
            "B0SAMPR001",
            [
                "I wore this jacket on a week of rainy walks in Seattle and stayed completely dry. It packs into its own pocket, which is perfect for my daypack. The hood has a little brim that keeps rain off my glasses. Love it and already ordered one for my sister.",
                "Lightweight and really does keep the rain out. The sleeves are a bit long on me but I just push them up and they stay put. Color is exactly like the picture, a nice deep teal. Good value for the money and I would buy it again.",
                "This is my third rain jacket this year and the only one I am keeping. Breathes well when I bike to work, the zipper doesn't stick, and it still looks nice enough to wear to the office over a blouse. Highly recommend to anyone who commutes.",
                "It's fine. Keeps me dry in a light drizzle but in a real downpour the shoulders started to feel damp after about an hour of walking the dog. For the price I guess I can't complain too much, but I wouldn't trust it for a long hike.",
                "Runs small. I ordered my normal medium and couldn't zip it over a sweater, and the arms were tight when I reached forward. The material also makes a crinkly noise every time I move. Returned it for a size up and we'll see how that one fits.",
                "Perfect travel jacket! Rolled it up in my carry on for two weeks in Ireland and pulled it out almost every single day. Dries fast when you hang it up in the hotel room overnight. Pockets are deep enough for a phone and a passport.",
                "Nice jacket, just wish it had pit zips. It can get a little warm on hikes when you are going uphill for a while. Otherwise well made, the seams are taped and the hood adjusts easily with one hand. Four stars from me.",
                "The zipper broke the second time I wore it and the seller never answered my messages. Very disappointed. The fabric felt decent and it seemed waterproof in the shower test, but a jacket is useless if you can't close it in the rain.",
            ],
            [
                "This packable rain jacket is lightweight and keeps the wearer dry in most rain, making it a great choice for travel and daily commutes. It folds into its own pocket and breathes well. However, it runs small, so ordering a size up is recommended.",
                "A light, breathable rain jacket that packs into its own pocket and dries quickly. The adjustable hood and taped seams work well in wet weather, though heavy downpours can soak through at the shoulders. The sizing is small and the zipper may fail.",
                "This women's rain jacket is a good value for walking, biking and traveling. It is comfortable, looks nice enough for the office and stays dry in light to moderate rain. It can feel warm during hard activity since there are no vents.",
            ],
            [5, 4, 5, 3, 2, 5, 4, 1],
        ),
        (
            "cloth",
            "B0SAMPR002",
            [
                "Best socks I own, hands down. They're soft, not itchy at all, and my feet stay warm in winter boots without getting sweaty. After a dozen washes there's no pilling and they still hold their shape. Ordering another pack for sure.",
                "I'm on my feet twelve hours a day at the hospital and these have made a real difference. Good cushion under the heel and ball of the foot, and they don't slide down into my shoes during a shift. Worth every penny of the price.",
                "Comfortable and warm, exactly what I wanted for winter. Only thing is they take forever to dry if you hang them, so I toss them in the dryer on low heat and they've been fine so far with no shrinking. Would recommend.",
                "Good socks with a nice thickness, not too bulky in my work shoes. But the gray is more of a brownish gray than it looks online, which bugged me a little. Fit is true to size for me, I wear a men's 10 and ordered the large.",
                "Got a hole in the toe of one pair after just two months of normal wear. For merino socks at this price I expected them to last a lot longer, at least a couple of seasons. The other two pairs are holding up ok so far.",
                "These are amazing for hiking. Did a 14 mile day in the mountains in them with no blisters and no stink at the end, even after crossing a creek. Merino really is magic. Very happy with these and my husband wants his own pack now.",
                "They are ok. Softer than my old wool socks and warm enough, but the band at the top is tight and leaves deep marks on my calves by the end of the day. If you have bigger calves you may want to look elsewhere.",
                "Bought these for my husband who always has cold feet and he refuses to wear anything else now. He wears them around the house and with his boots. Great gift idea, and they wash well in the regular laundry without any special care.",
            ],
            [
                "These men's merino wool socks are soft, warm and comfortable for long days on the feet. They manage sweat and odor well on hikes and hold up to washing without pilling. Some pairs may wear through early, and the top band is tight.",
                "These crew socks are cushioned, not itchy and keep feet warm without sweating. They fit true to size and make a nice gift. However, they are slow to air dry and the gray color looks different than in the picture.",
                "A quality pack of wool socks that is great for work, hiking and cold winter days. They prevent blisters and odor, and stay in place in shoes. Durability can be an issue, with holes appearing after a couple of months for some.",
            ],
            [5, 5, 4, 4, 2, 5, 3, 5],
        ),
        (
            "electronics",
            "B0SAMPR003",
            [
                "Surprisingly big sound from such a small speaker. I use it in the shower and by the pool and it's survived a few dunks already. Battery lasts all weekend without needing a charge. Bass is decent, not amazing, but fine for podcasts and pop music.",
                "Paired instantly with my phone and my daughter's tablet. We take it camping and it easily fills our campsite with music around the fire. Sturdy, with a strap that clips to a backpack so it's easy to carry on hikes. Great buy for the money.",
                "I bought two and linked them together for stereo sound in my living room. Sounds really good for the price, much better than my old soundbar. The app is simple to use and lets you adjust the EQ, which helps bring up the bass.",
                "Sound is ok at low volume but gets distorted and tinny when you turn it up past about half. I was expecting much more from all the good reviews. It also turned itself off twice while I was listening. Returning it for a refund.",
                "Nice little speaker. Volume could be a bit louder outdoors when there is wind or traffic, but indoors it is more than enough for a bedroom or kitchen. Charges with USB-C which is a plus since all my other stuff uses that now.",
                "Stopped charging after five weeks. Tried different cables and chargers and nothing worked, the light just blinks red. Customer service wanted me to ship it back at my own cost and wait a month for a replacement. Not worth the hassle at all.",
                '"Love this thing!" is what my whole family said the first weekend we took it out. The battery honestly lasts like 15 hours and it floats if it falls in the lake. Speakerphone works too if you need to take a call.',
                "It's decent. The sound is clear, but there's a slight delay when watching videos on my laptop, so lips don't match and I only use it for music. The rubber buttons are also hard to press, especially the volume ones. Three stars.",
            ],
            [
                "This portable Bluetooth speaker is small but produces a loud, clear sound that works well indoors and outdoors. It is waterproof, floats and has a long battery life. However, the sound distorts at high volume and some units stopped charging.",
                "This waterproof speaker is easy to pair, rugged and great for camping, the pool or the shower. Two speakers can be linked for stereo sound. It charges by USB-C but may have a delay with videos and stiff buttons.",
                "A compact wireless speaker with good sound for the price, a useful app and a long-lasting battery. The bass is only average and it could be louder outdoors. Overall, it is a good value for casual listening.",
            ],
            [4, 5, 5, 2, 4, 1, 5, 3],
        ),
        (
            "health_personal_care",
            "B0SAMPR004",
            [
                "My dentist noticed the difference at my last cleaning. Much less plaque than before and she asked what I changed. The 2-minute timer with the 30 second buzz keeps me honest about brushing every section. Battery lasts about three weeks between charges.",
                "Great toothbrush, a bit loud though. My husband can hear it from the bedroom with the bathroom door closed. Cleaning is excellent and my teeth feel smooth all day, like I just left the dentist. I would still buy it again.",
                "I switched from a much more expensive brand and honestly can't tell the difference in how clean my teeth feel. Replacement heads are way cheaper too, which adds up over a year. Very happy with this purchase and would recommend it to friends.",
                "The travel case is a nice touch and it holds a charge through a whole week long trip without the charger. My gums used to bleed when I brushed and that has stopped since I started using the sensitive mode. Really pleased overall.",
                "Works fine but the vibration made my teeth tickle for the first few days and it felt strange. Got used to it eventually. The charging base is a little wobbly and the brush falls over if you bump the counter. Average product.",
                "Died after four months. It would not turn on at all, even after charging overnight on two different outlets. For an electric toothbrush I expected at least a couple of years of use. Very disappointed and the warranty process is slow.",
                "Good brush. Five modes is more than I need, I mostly use clean and whitening and ignore the rest. I would like a better indicator of when the battery is low, because the light only changes when it is almost dead.",
                "Bought one for each of us and the kids fight over who gets to brush first now. Easy to use with one button, and the timer makes sure they brush long enough instead of thirty seconds. Great for families.",
            ],
            [
                "This electric toothbrush cleans very well, leaving teeth smooth and reducing plaque and gum bleeding. It has a helpful timer, several modes and a long battery life, with cheap replacement heads. It is somewhat loud and some units failed early.",
                "This rechargeable sonic toothbrush performs like more expensive brands at a lower price. It includes a travel case and a sensitive mode that is gentle on gums. The vibration can take getting used to and the charging base is a bit unstable.",
                "An effective and easy to use toothbrush that is suitable for the whole family. The built-in timer encourages brushing for the full two minutes. However, the low battery indicator could be better, and durability may be a concern.",
            ],
            [5, 4, 5, 5, 3, 1, 4, 5],
        ),
        (
            "home_kitchen",
            "B0SAMPR005",
            [
                "Makes a rich, full bodied cup every morning. The double wall keeps coffee hot for a long time, which I didn't expect from a French press. No grounds in my cup thanks to the multi layer filter. I've stopped using my drip machine completely.",
                "Beautiful on the counter and feels solid in the hand. I had a glass one that I broke within a month of buying it; this stainless one isn't going anywhere. Easy to take apart and clean, and the parts go in the dishwasher.",
                'Love it. Makes enough for two big mugs, which is perfect for me and my wife on weekends. I also use it for "cold brew" overnight in the fridge and it works great for that too. Pour is clean with no drips down the side.',
                "The filter lets through some sludge if you grind too fine, so use a coarse grind. Once I figured that out and adjusted my grinder I've been happy with it. A little heavy when full, so be careful pouring with one hand.",
                "Great press that keeps coffee hot for about an hour on the counter. The plunger is smooth and doesn't wobble. Only downside is the handle gets warm after a while, but not hot enough to burn you. Good purchase for the price.",
                "It's ok. The lid doesn't sit flush and rattles a bit when you pour. Coffee tastes good, no complaints there, but I expected better fit and finish for the price they are asking. Probably would not buy it again.",
                "My third French press and definitely the best of them. No more broken glass all over the kitchen floor. The measuring scoop that came with it is handy and the markings inside the pot make it easy to get the water right.",
                "After a few months rust spots showed up around the bottom rim. I hand wash it and dry it right away, so I don't know what happened. The coffee is good while it lasts, but I expected stainless steel to actually be stainless.",
            ],
            [
                "This stainless steel French press makes rich coffee and keeps it hot for a long time thanks to its double wall. It is sturdy, attractive and easy to clean, with a good filter. A coarse grind is needed to avoid sludge in the cup.",
                "A durable French press that will not break like glass models. It brews enough for two large mugs and can also be used for cold brew. The lid can rattle, and rust spots may appear over time on some units.",
                "This coffee press is well made and has a smooth plunger and a handy measuring scoop. It keeps coffee hot for about an hour. It is somewhat heavy when full and the handle warms up, but overall it is highly recommended.",
            ],
            [5, 5, 4, 2, 5, 3, 4, 5],
        ),
        (
            "home_kitchen",
            "B0SAMPR006",
            [
                "Super soft sheets for the price. They don't feel cheap at all. The fitted sheet stays on my thick mattress with the deep pockets, even with a topper. Washed them several times now and no pilling yet. Very happy with this set.",
                "Way too thin. You can almost see through the flat sheet when you hold it up to the light. They are soft, I'll give them that, but I don't expect them to last more than a few months of weekly washing. Disappointed.",
                "These are the softest sheets I've ever had, and I've tried a lot of brands. I bought a second set in gray so I always have one clean on laundry day. The color matches the picture exactly. Highly recommend these.",
                "Sleeping hot is my problem and these help a lot compared to my old flannel sheets. Cool and smooth all night. I wish the pillowcases were a little bigger though, they're tight on my king size pillows and the ends stick out.",
                "Decent sheets for the money. They wrinkle a lot coming out of the dryer, so if you care about that you'll want to pull them out right away and fold them or put them straight on the bed. Otherwise comfortable enough.",
                "Nice feel and a good fit on our queen. The elastic on the fitted sheet goes all the way around, which keeps the corners from popping off when you move in your sleep. Good value and shipping was fast too.",
                "Pilled terribly after the second wash, even on the gentle cycle with cold water. They looked old and scratchy within a month. Save your money and buy cotton sheets instead. I'm very unhappy with these and won't order again.",
                "I'm very picky about bedding and I was pleasantly surprised by these. Soft, breathable, and the navy color is rich and didn't fade after many washes. The stitching is neat too. Would definitely buy again for the guest room.",
            ],
            [
                "These microfiber sheets are very soft, breathable and cool for hot sleepers. The fitted sheet has deep pockets and full elastic that keeps it on thick mattresses. However, the fabric is thin, can pill and wrinkles easily.",
                "A queen sheet set that offers good value with a soft feel and rich colors that do not fade. The pillowcases are small for large pillows. Some sets pilled quickly after washing, so durability can be a problem.",
                "These bed sheets are smooth, comfortable and fit well. They are a great budget option that does not feel cheap, though they are thinner than cotton sheets. Removing them from the dryer promptly helps prevent wrinkles.",
            ],
            [4, 2, 5, 5, 3, 4, 1, 5],
        ),
    ],
    "val": [
        (
            "electronics",
            "B0SAMPR007",
            [
                "Quiet clicks, which is exactly what I wanted for working late next to my sleeping partner. Scrolling is smooth and it tracks well on my wooden desk without a pad. Battery still at full after a month of daily use. Very pleased.",
                "Fits my small hand nicely, I have always had trouble with big gaming mice. Connects through the USB dongle instantly, no drivers needed on Windows. The side buttons are handy for going back and forward in the browser.",
                "Good basic mouse that does what it should. But the dongle has no storage slot in the mouse, so I already lost it once in my laptop bag. Had to buy a replacement receiver, which was annoying. Three stars for that.",
                "Works perfectly with both my work laptop and my Mac through Bluetooth. I can switch between them with one button on the bottom, which saves a lot of time during the day. No lag that I can notice. Recommended.",
                "The scroll wheel started squeaking after three weeks and now it sometimes skips or scrolls the wrong way. Disappointing for a brand new mouse. It was good while it worked, but I am going back to my old wired one.",
                "Comfortable for long days of spreadsheets and emails. I had wrist pain with my old flat mouse and this curved shape seems to help a lot. The clicks are soft and quiet too. Very pleased with it, buying one for home.",
                "It's just ok for me. Too small for my large hands, my fingers hang off the end and my palm cramps after an hour. The plastic also feels cheap and hollow. Tracking is accurate though, so no problems there.",
                "Great value for an office. I bought three of these for our team and no complaints so far after two months. The single AA battery lasts forever and setup took about thirty seconds per computer. Would order more.",
            ],
            [
                "This wireless mouse is quiet, comfortable and tracks accurately on most surfaces. It connects by USB receiver or Bluetooth and can switch between devices. It is better suited to small or medium hands, and the scroll wheel may wear out.",
                "A comfortable, silent mouse that is great for office work and late nights. The battery lasts a long time and setup is easy. However, it has no place to store the receiver, and the plastic feels cheap.",
                "This mouse offers good value with smooth scrolling, useful side buttons and a shape that may reduce wrist pain. It works on Windows and Mac. Some users found the scroll wheel squeaky after a few weeks of use.",
            ],
            [5, 5, 3, 5, 2, 5, 3, 4],
        ),
        (
            "health_personal_care",
            "B0SAMPR008",
            [
                "Accurate and consistent. I weighed myself five times in a row and got the same number each time. It matches the scale at my doctor's office within half a pound, which is good enough for me. Very happy with it.",
                "Looks sleek in the bathroom and the display is big and bright, so it is easy to read without my glasses in the morning. Turns on as soon as you step on it, no tapping needed. Simple and nice looking.",
                "The app sync is hit or miss. Sometimes it connects right away, sometimes it doesn't and I have to reopen the app twice. The body fat numbers also seem way off compared to my gym. Weight is fine though.",
                "I've been using it daily for two months for my diet and it has been great motivation to keep going. The app graphs are helpful to see trends over weeks instead of worrying about one day. Down twelve pounds so far.",
                "Not very accurate at all. It gave me a reading that was four pounds different from one minute to the next, without me eating or drinking anything. I can't track weight loss with that. Returned it the same week.",
                "Works well on tile, but on my bathroom rug the readings were all over the place. Once I moved it to the hard floor it has been fine and consistent. Just something to be aware of if your bathroom is carpeted.",
                "Simple and does the job without any fuss. Batteries were included, which was a nice surprise, and it was ready to use out of the box. The glass top is easy to wipe clean. Good scale for a guest bathroom.",
                "Great scale for the price. It tracks the whole family with separate profiles and recognizes who is stepping on it most of the time. My teenage son uses it to track his weight for wrestling season. Would recommend it.",
            ],
            [
                "This digital bathroom scale gives consistent, accurate weight readings on a hard floor. It has a large display that is easy to read and a sleek glass top. The app sync can be unreliable, and body fat readings may be inaccurate.",
                "A smart scale that tracks weight trends with helpful app graphs and supports separate profiles for the whole family. It must be used on a hard, flat floor. It includes batteries and is easy to clean.",
                "This scale is a good value that turns on automatically and is simple to use. Most people find it accurate, though some saw readings change by several pounds. It is helpful motivation for tracking a diet.",
            ],
            [5, 5, 3, 5, 1, 4, 4, 5],
        ),
    ],
    "test": [
        (
            "cloth",
            "B0SAMPR009",
            [
                "These boots are gorgeous and surprisingly comfortable right out of the box. I walked all over the city in them on day one with no blisters at all. The leather is soft and the color is a rich cognac that looks even better in person.",
                "Cute boots but they run narrow. I have slightly wide feet and they pinch across the toes after an hour or two. Might stretch out with time, and I'm trying a shoe stretcher. If your feet are wide, consider sizing up.",
                'I get compliments every time I wear these, usually "where did you get those boots?" They go with jeans and dresses. The inside zipper makes them easy to get on and off, even when I am running late for work.',
                "The heel is the perfect height for work, I can wear them all day in the office and on my commute. Good arch support for a fashion boot, which is rare. Buying the black ones too so I have both colors for fall.",
                "Leather scuffed on the toe the first time I wore them, and the sole is already coming loose at the front after only a month. Poor quality for the price. I expected them to last a few seasons, not a few weeks.",
                "Very comfortable and true to size. I wore them on a trip to Paris and walked about eight miles a day on cobblestones without sore feet. My only complaint is they are not waterproof, so my socks got wet in the rain.",
                "They're ok. They look nice and the leather is soft, but the sole is slippery on wet sidewalks and I almost fell twice. I had to add grip pads to the bottoms to feel safe. Not great for rainy places.",
                "Perfect fall boots! Soft leather, a cushioned insole, and they look more expensive than they are. I wear them with leggings and sweaters almost every day. Love them and would buy them again without thinking twice.",
            ],
            [
                "These women's leather ankle boots are stylish and comfortable enough for walking all day. The soft leather, side zipper and moderate heel make them versatile for work and casual wear. They run narrow and are not waterproof.",
                "These ankle boots look more expensive than they are and go well with both jeans and dresses. They fit true to size and have good arch support. However, the soles can be slippery when wet and may come loose.",
                "A comfortable, attractive pair of boots that earns many compliments. The cushioned insole works well for travel and long days. Some wearers with wide feet found them tight, and the leather can scuff easily.",
            ],
            [5, 3, 5, 5, 1, 4, 3, 5],
        ),
        (
            "electronics",
            "B0SAMPR010",
            [
                "Finally I can plug my monitor, keyboard and SD card into my MacBook with one cable. HDMI runs at 4K 60Hz without issues on my LG screen. Everything just worked out of the box, no drivers or setup. Exactly what I needed.",
                "Gets really hot when charging my laptop through it, too hot to hold comfortably after an hour. It still works fine, but it makes me nervous leaving it plugged in all day and overnight. I unplug it when I'm done working.",
                "Great little hub. Compact enough to toss in my laptop bag, and the aluminum shell feels sturdy and matches my laptop. The short attached cable is a bit stiff, so the hub sometimes lifts off the desk. Minor complaint though.",
                "The ethernet port is a lifesaver in hotels with bad wifi, I travel for work every week. Transfer speeds from the SD card reader are fast too, which helps when I import photos from my camera. Very useful and reliable.",
                "Stopped recognizing my external drive after two weeks. Unplugging and replugging the hub sometimes helps, but not always, and I worry about losing data. Frustrating because everything else on it seems to work. Two stars.",
                "Works with both my Dell laptop and my iPad Pro without any problems. Passthrough charging is a bit slower than charging directly from the wall, but that's expected with a hub. Good build quality for the price.",
                "Does everything it says it will. I use it every day for my home office setup with two USB devices, a monitor and power, and it hasn't let me down in six months. Would recommend it to anyone working from home.",
                "My monitor flickers once in a while when using the HDMI port, maybe once or twice an hour. Otherwise it's fine, but that gets annoying during video calls and presentations. I may try a different cable to see if it helps.",
            ],
            [
                "This 7-in-1 USB-C hub adds HDMI, USB, SD card and ethernet ports to a laptop through one cable. It is compact, sturdy and supports 4K video. However, it gets hot while charging and some units had connection problems.",
                "A handy aluminum hub that works with MacBooks, Windows laptops and tablets. The card reader and ethernet port are fast and useful for travel. Passthrough charging is slower, and the monitor may occasionally flicker.",
                "This USB-C adapter is a reliable, plug and play solution for a home office or travel. It is small enough to fit in a laptop bag. The short cable is stiff and external drives may disconnect at times.",
            ],
            [5, 3, 4, 5, 2, 4, 5, 3],
        ),
        (
            "health_personal_care",
            "B0SAMPR011",
            [
                "My gums have never been healthier. I was skeptical about water flossers, but after two weeks my hygienist asked what I was doing differently. The pressure settings let me start gentle and work my way up. Definitely worth it.",
                "Cordless is so much better than the countertop one I had before. No cord, no big tank taking up space on the sink, and I can use it in the shower, which means no water all over the mirror. Love it.",
                "The tank is small, so I have to refill it halfway through to do my whole mouth on the higher setting. Otherwise it works well, cleans thoroughly and charges fast. Four stars because of the refill hassle.",
                "Braces make flossing a nightmare and this thing gets everything out from around the brackets in a minute. My orthodontist recommended it at my last appointment and I'm glad I listened. My teeth feel so much cleaner now.",
                "Stopped holding a charge after three months. Now it dies in the middle of every use and I have to finish with string floss. It was great for the first few weeks, but I expected it to last much longer than this.",
                "Works great, but water goes everywhere the first few times until you learn to close your lips around the tip and lean over the sink. Worth it for how clean my teeth feel afterwards. Just be ready for a learning curve.",
                "Good flosser, though it's louder than I thought it would be and my dog hides when I use it. The travel bag is nice and it fits easily in my suitcase for work trips. Battery lasts about a week between charges.",
                "Easy to use and very effective. I bought one for my mom and one for me after trying my sister's. The extra tips are handy so we can each have our own color. Fast shipping and nice packaging too.",
            ],
            [
                "This cordless water flosser is effective for cleaning between teeth and around braces, leading to healthier gums. It has several pressure settings and is portable. However, the water tank is small and the battery may fail early.",
                "A convenient rechargeable flosser that charges fast and can be used in the shower to avoid mess. It comes with a travel bag and extra tips. It can be noisy and takes some practice to avoid splashing.",
                "This water flosser is easy to use and a great replacement for string floss or a countertop model. It is recommended by orthodontists for braces. Some units stopped holding a charge after a few months.",
            ],
            [5, 5, 4, 5, 1, 4, 4, 5],
        ),
        (
            "home_kitchen",
            "B0SAMPR012",
            [
                "Cookies slide right off with no parchment needed. The pans are heavy and don't warp in a hot oven like my old ones did. Three sizes are perfect for everything from a batch of cookies to a sheet pan dinner for four people.",
                "Roasted vegetables at 450 degrees and the pan stayed completely flat, no popping sounds. Cleanup is easy, just a quick wash with a soft sponge and warm water. Nice set that looks good too. I'd buy it again as a gift.",
                "The coating started to chip on the edges after a few months of use. I only hand wash them and never use metal utensils, so I'm disappointed. Now I line them with foil because I don't want flakes in our food.",
                "These are the best baking sheets I've had in twenty years of baking. Even browning on the bottoms of my cookies and nothing sticks, not even melted cheese. Highly recommended for anyone who bakes a lot during the holidays.",
                "Good pans, but the largest one barely fits in my oven and I have to tilt it to get it in. Measure your oven before you buy. The other two sizes are great and I use them several times a week.",
                "They look nice and perform well. The dark color means I lower the oven temperature by about 25 degrees to avoid burnt bottoms on cookies and rolls. Once you adjust for that, the results are really good and even.",
                "Solid pans at a fair price. They stack neatly in the cabinet without scratching each other. The rolled edges make them easy to grab with oven mitts, and they feel much sturdier than the thin pans at the grocery store.",
                "Warped with a loud bang the first time I used the large one at 425 degrees, and the vegetables slid to one side. It never went back to flat. Returned the whole set and went back to my old aluminum pans.",
            ],
            [
                "This set of nonstick baking sheets is sturdy, bakes evenly and cleans up easily. The three sizes are useful for cookies and roasted vegetables. However, the coating may chip over time and the large pan may not fit smaller ovens.",
                "These heavy baking pans release food easily and mostly resist warping at high heat. They stack neatly and have rolled edges for a good grip. The dark finish can brown food faster, so a lower temperature is recommended.",
                "A well made baking sheet set that offers good value for everyday baking. Cookies brown evenly and nothing sticks. Some pans warped or chipped, but most buyers are very pleased and would recommend them.",
            ],
            [5, 5, 2, 5, 4, 4, 4, 1],
        ),
    ],
}

# The real FewSum files are mostly unquoted, but a field that contains double quotes is
# sometimes written CSV-style (wrapped in quotes, inner quotes doubled) and sometimes left raw
# with the quotes mid-field. Reproduce both so readers are exercised: the fields listed here
# are CSV-quoted; B0SAMPR005 rev3 keeps its mid-field quotes raw. A raw field must never
# start with a quote (a CSV reader would take it for a quoted field).
_FEWSUM_QUOTED = {("train", "B0SAMPR003", "rev7"), ("test", "B0SAMPR009", "rev3")}

FEWSUM_HEADER = (
    ["cat", "group_id"]
    + [f"rev{i}" for i in range(1, 9)]
    + [f"summ{i}" for i in range(1, 4)]
    + [f"rating{i}" for i in range(1, 9)]
)


def build_fewsum(out: Path) -> dict[str, int]:
    d = out / "fewsum_amazon"
    d.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, rows in FEWSUM.items():
        lines = ["\t".join(FEWSUM_HEADER)]
        for cat, gid, revs, summs, ratings in rows:
            assert len(revs) == 8 and len(summs) == 3 and len(ratings) == 8
            fields = [cat, gid, *revs, *summs]
            cols = FEWSUM_HEADER[: len(fields)]
            out_fields = []
            for col, val in zip(cols, fields):
                key = (split, gid, col)
                assert "\t" not in val and "\n" not in val
                if key in _FEWSUM_QUOTED:
                    val = '"' + val.replace('"', '""') + '"'
                else:
                    assert not val.startswith('"'), key
                out_fields.append(val)
            # Ratings are written as floats ("5.0"), as in the real files.
            out_fields += [f"{float(r):.1f}" for r in ratings]
            lines.append("\t".join(out_fields))
        with open(d / f"{split}.csv", "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
        counts[split] = len(rows)
    return counts


# ---------------------------------------------------------------------------
# 4. AE-110k (JSON lines)
# ---------------------------------------------------------------------------
# (category, title, {attribute: value or list of values}); "n/a" means absent.

AE110K = {
    "train": [
        ("Eyewear", "RIDEZEN Polarized Cycling Sunglasses Men Women UV400 Sport Bike Glasses TR90 Frame MTB Road Eyewear RZ-802",
         {"Brand Name": "RIDEZEN", "Lenses Optical Attribute": "Polarized", "Sport Type": "Cycling", "Frame Material": "TR90", "Model Number": "RZ-802"}),
        ("Eyewear", "2023 New Photochromic Cycling Glasses Men Outdoor Sports Running Sunglasses Mountain Bike Goggles Unisex Eyewear",
         {"Lenses Optical Attribute": "Photochromic", "Gender": "Unisex", "Sport Type": "Cycling", "Brand Name": "n/a"}),
        ("Eyewear", "SUNVIRO Fishing Sunglasses Polarized Men Driving Shades Square Frame Anti Glare Goggles Lens Width 62mm SV1183",
         {"Brand Name": "SUNVIRO", "Sport Type": "Fishing", "Gender": "Men", "Lens Width": "62mm", "Model Number": "SV1183", "Lenses Optical Attribute": "Polarized"}),
        ("Eyewear", "KOMAXI Anti-fog Skiing Goggles Spherical Dual Lens Magnetic Snowboard Eyewear Winter Sports Adult Helmet Compatible KX-610",
         {"Brand Name": "KOMAXI", "Sport Type": "Skiing", "Model Number": "KX-610", "Lenses Optical Attribute": "Anti-fog", "Gender": "n/a"}),
        ("Eyewear", "Outdoor Hiking Sunglasses Women Cat Eye Sport Glasses Polycarbonate Lenses Black Frame Climbing Eyewear",
         {"Sport Type": "Hiking", "Gender": "Women", "Lenses Material": "Polycarbonate", "Frame Color": "Black", "Brand Name": "n/a"}),
        ("Eyewear", "TRAILOPT Men Running Glasses Mirrored UV400 Lightweight Aluminum Frame Marathon Sunglasses Lens Height 48mm",
         {"Brand Name": "TRAILOPT", "Sport Type": "Running", "Gender": "Men", "Frame Material": "Aluminum", "Lens Height": "48mm", "Lenses Optical Attribute": "Mirrored"}),
        ("Eyewear", "Kids Swimming Goggles Anti Fog Waterproof Silicone Swim Glasses Children Pool Eyewear",
         {"Sport Type": "Swimming", "Gender": "Children", "Frame Material": "Silicone", "Model Number": "n/a"}),
        ("Eyewear", "VELOCRAFT 5 Lens Set Cycling Glasses Polarized Photochromic MTB Sport Sunglasses Red Frame VC-9021",
         {"Brand Name": "VELOCRAFT", "Lenses Optical Attribute": ["Polarized", "Photochromic"], "Frame Color": "Red", "Model Number": "VC-9021", "Sport Type": "n/a"}),
        ("Shirts", "ARVANO Men Running T Shirt Quick Dry Compression Short Sleeve Gym Fitness Tee Polyester Sportswear AV2031",
         {"Brand Name": "ARVANO", "Sport Type": "Running", "Gender": "Men", "Material": "Polyester", "Model Number": "AV2031", "Feature": "Quick Dry"}),
        ("Shirts", "Women Yoga Shirts Long Sleeve Crop Top Workout Tops Seamless Breathable Fitness Gym Sport T-shirt",
         {"Sport Type": "Yoga", "Gender": "Women", "Fabric Type": "n/a", "Feature": "Breathable"}),
        ("Shirts", "Custom Basketball Jersey Men Mesh Breathable Team Uniform Sleeveless Basketball Shirts Print Name Number",
         {"Sport Type": "Basketball", "Gender": "Men", "Fabric Type": "Mesh", "Brand Name": "n/a"}),
        ("Shirts", "PEAKWIN Cycling Jersey Men Summer Short Sleeve MTB Bike Shirt Pro Team Bicycle Clothing Sleeve Length(cm) 22 PW-77",
         {"Brand Name": "PEAKWIN", "Sport Type": "Cycling", "Gender": "Men", "Model Number": "PW-77", "Sleeve Length(cm)": "22"}),
        ("Shirts", "Soccer Jerseys 2024 Adult Football Shirt Club Training Uniform Spandex Quick-dry Tops ",
         {"Sport Type": "Soccer", "Material": "Spandex", "Feature": "Quick-dry", "Gender": "n/a", "Model Number": "n/a"}),
        ("Shirts", "Men Compression Shirt Long Sleeve Base Layer Thermal Fitness Rashguard Nylon Gym Tight Tee",
         {"Gender": "Men", "Material": "Nylon", "Sport Type": "Fitness", "Fabric Type": "Rashguard"}),
        ("Shirts", "ZONTAK Womens Tennis Polo Shirt Moisture Wicking Golf Tops Cotton Blend ZT-4410",
         {"Brand Name": "ZONTAK", "Gender": "Women", "Sport Type": "Tennis", "Model Number": "ZT-4410", "Material": "n/a"}),
        ("Shirts", "Sports Shirt Summer Outdoor Tee Breathable Hiking Camping Shirts",
         {"Gender": "n/a", "Brand Name": "n/a"}),
        ("Shorts", "BOLTFIT Men 2 in 1 Running Shorts Quick Dry Gym Fitness Training Jogging Shorts with Phone Pocket BF-209",
         {"Brand Name": "BOLTFIT", "Sport Type": "Running", "Gender": "Men", "Model Number": "BF-209", "Feature": "Quick Dry"}),
        ("Shorts", "Women Cycling Shorts 3D Gel Padded Bike Underwear Shockproof MTB Riding Shorts Lycra",
         {"Sport Type": "Cycling", "Gender": "Women", "Material": "Lycra", "Brand Name": "n/a"}),
        ("Shorts", "Men Board Shorts Tropical Print Swim Trunks Beach Surf Shorts Quick Dry Polyester",
         {"Sport Type": "Surf", "Gender": "Men", "Pattern": "Print", "Material": "Polyester"}),
        ("Shorts", "HALVORD Basketball Shorts Men Mesh Breathable Loose Training Shorts Plaid Side Stripe HV5502",
         {"Brand Name": "HALVORD", "Sport Type": "Basketball", "Gender": "Men", "Pattern": "Plaid", "Model Number": "HV5502"}),
        ("Shorts", "Womens High Waist Yoga Shorts Seamless Scrunch Butt Gym Biker Shorts Solid Color Nylon Spandex",
         {"Sport Type": "Yoga", "Gender": "Women", "Pattern": "Solid", "Material": "Nylon Spandex", "Feature": "Seamless"}),
        ("Shorts", "Boxing Shorts MMA Muay Thai Trunks Kickboxing Fight Shorts Men Women Kids Satin",
         {"Sport Type": "Boxing", "Material": "Satin", "Gender": "n/a"}),
        ("Shorts", "Tennis Shorts Elastic Waist Men&#39;s Badminton Table Tennis Training Bottoms Quick Dry",
         {"Sport Type": "Tennis", "Gender": "n/a", "Feature": "Quick Dry", "Brand Name": "n/a"}),
        ("Lure", "FLYBASS 110mm 16g Floating Minnow Wobbler Jerkbait Hard Lure for Pike Bass Trout Lake Fishing FB-110",
         {"Brand Name": "FLYBASS", "Length": "110mm", "Weight": "16g", "Lure Type": "Minnow", "Model Number": "FB-110"}),
        ("Lure", "HOOKMASTER 10pcs/lot Soft Worm Lure 75mm 3g Silicone Shad Bait Jig Wobbler Carp Fishing",
         {"Brand Name": "HOOKMASTER", "Quantity": "10pcs/lot", "Length": "75mm", "Weight": "3g", "Material": "Silicone"}),
        ("Lure", "Metal Spoon Lure 7g 10g 15g Spinner Bait Trout Pike Fishing Spoons Treble Hook Tackle",
         {"Material": "Metal", "Lure Type": "Spoon", "Weight": "n/a", "Brand Name": "n/a"}),
        ("Lure", "FLYBASS Topwater Popper Lure 80mm 11g Pencil Bait Artificial Hard Plastic Sea Bass Lure FB-P80",
         {"Brand Name": "FLYBASS", "Model Number": "FB-P80", "Length": "80mm", "Weight": "11g", "Lure Type": "Popper", "Material": "Plastic"}),
        ("Lure", "Rattle VIB Lure 60mm 14g Sinking Vibration Bait Winter Ice Fishing Lures  Perch Zander",
         {"Lure Type": "VIB", "Length": "60mm", "Weight": "14g", "Model Number": "n/a"}),
        ("Lure", "REELTIDE Jig Head Soft Lure Set 5pcs 3.5g Paddle Tail Swimbait Freshwater Bass Fishing",
         {"Brand Name": "REELTIDE", "Quantity": "5pcs", "Weight": "3.5g", "Lure Type": "Swimbait"}),
        ("Lure", "Fishing Lure Kit Mixed Baits Box Frog Crankbait Spinnerbait Tackle Set for Beginners",
         {"Brand Name": "n/a", "Model Number": "n/a"}),
    ],
    "test": [
        ("Eyewear", "RIDEZEN Cycling Glasses Photochromic Men Women Road Bike Sunglasses Wind Protection Goggles RZ-655",
         {"Brand Name": "RIDEZEN", "Lenses Optical Attribute": "Photochromic", "Sport Type": "Cycling", "Model Number": "RZ-655"}),
        ("Eyewear", "Square Polarized Sunglasses Men Driving Fishing Glasses Metal Frame Gold Classic Eyewear",
         {"Lenses Optical Attribute": "Polarized", "Gender": "Men", "Sport Type": "Fishing", "Frame Material": "Metal", "Frame Color": "Gold", "Brand Name": "n/a"}),
        ("Eyewear", "KOMAXI Women Sport Sunglasses Volleyball Golf Sun Glasses UV400 Lens Width 58mm KX-33",
         {"Brand Name": "KOMAXI", "Gender": "Women", "Sport Type": "Golf", "Lens Width": "58mm", "Model Number": "KX-33"}),
        ("Shirts", "ARVANO Women Running Shirt Reflective Sleeveless Marathon Tank Top Mesh Quick Dry AV3019",
         {"Brand Name": "ARVANO", "Gender": "Women", "Sport Type": "Running", "Fabric Type": "Mesh", "Model Number": "AV3019"}),
        ("Shirts", "Hockey Jersey Men Embroidered Team Ice Hockey Shirts Polyester Training Wear",
         {"Sport Type": "Ice Hockey", "Gender": "Men", "Material": "Polyester", "Brand Name": "n/a"}),
        ("Shirts", "PEAKWIN Long Sleeve Cycling Jersey Women Autumn Bike Shirt Thermal Fleece Sleeve Length(cm) 60",
         {"Brand Name": "PEAKWIN", "Gender": "Women", "Sport Type": "Cycling", "Sleeve Length(cm)": "60", "Model Number": "n/a"}),
        ("Shorts", "BOLTFIT Women Running Shorts Summer Gym Jogging Shorts Drawstring Quick Dry Striped BF-318",
         {"Brand Name": "BOLTFIT", "Gender": "Women", "Sport Type": "Running", "Pattern": "Striped", "Model Number": "BF-318"}),
        ("Shorts", "Men Cargo Hiking Shorts Outdoor Camping Quick Dry Nylon Shorts with Multi Pocket",
         {"Sport Type": "Hiking", "Gender": "Men", "Material": "Nylon", "Feature": "Quick Dry"}),
        ("Shorts", "Compression Shorts Men Base Layer Gym Tights Sports Underwear Running Short Pants",
         {"Gender": "Men", "Sport Type": "Running", "Brand Name": "n/a", "Pattern": "n/a"}),
        ("Lure", "HOOKMASTER Crankbait Fishing Lure 55mm 9g Deep Diving Wobbler Bass Hard Bait HM-C55",
         {"Brand Name": "HOOKMASTER", "Model Number": "HM-C55", "Length": "55mm", "Weight": "9g", "Lure Type": "Crankbait"}),
        ("Lure", "Frog Lure 60mm 12g Soft Topwater Bait Snakehead Bass Fishing Weedless Double Hook",
         {"Lure Type": "Frog", "Length": "60mm", "Weight": "12g", "Brand Name": "n/a"}),
        ("Lure", "REELTIDE 20pcs/lot Luminous Squid Jig Octopus Lure Soft Bait Sea Fishing",
         {"Brand Name": "REELTIDE", "Quantity": "20pcs/lot", "Lure Type": "Squid Jig", "Material": "n/a"}),
    ],
}


def build_ae110k(out: Path) -> dict[str, int]:
    d = out / "ae110k"
    d.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, rows in AE110K.items():
        lines = []
        for cat, title, attrs in rows:
            target = {}
            for attr, val in attrs.items():
                vals = val if isinstance(val, list) else [val]
                for v in vals:
                    assert v == "n/a" or v in title, (title, attr, v)
                target[attr] = {v: 1 for v in vals}
            # json.dumps defaults (ASCII, ", " and ": " separators) as in the real files.
            lines.append(json.dumps({"input": title, "category": cat, "target_scores": target}))
        with open(d / f"{split}.jsonl", "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
        counts[split] = len(rows)
    return counts


def main(out: Path = HERE) -> dict:
    counts = {
        "esci": build_esci(out),
        "queryner": build_queryner(out),
        "fewsum_amazon": build_fewsum(out),
        "ae110k": build_ae110k(out),
    }
    return counts


if __name__ == "__main__":
    out = Path(os.environ.get("ECOMSUITE_SAMPLE_OUT", HERE))
    for name, c in main(out).items():
        print(name, c)
