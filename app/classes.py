"""ImageNet class choice for VAR models: a short built-in list plus any number 0-999.

The full 1000-name list is data the app does not ship yet; ~55 common classes cover most
in-painting needs and any other class can be typed by number.
"""

from __future__ import annotations

from engine.api import UNCONDITIONAL_CLASS

ANY_CLASS_LABEL = "Any (no class)"

COMMON_CLASSES: dict[int, str] = {
    1: "goldfish",
    22: "bald eagle",
    88: "macaw",
    94: "hummingbird",
    130: "flamingo",
    145: "king penguin",
    207: "golden retriever",
    208: "Labrador retriever",
    250: "Siberian husky",
    263: "Pembroke corgi",
    281: "tabby cat",
    285: "Egyptian cat",
    291: "lion",
    292: "tiger",
    294: "brown bear",
    323: "monarch butterfly",
    330: "wood rabbit",
    339: "sorrel horse",
    340: "zebra",
    355: "llama",
    386: "African elephant",
    388: "giant panda",
    417: "balloon",
    437: "lighthouse",
    449: "boathouse",
    483: "castle",
    484: "catamaran",
    510: "container ship",
    511: "convertible",
    538: "dome",
    562: "fountain",
    580: "greenhouse",
    717: "pickup truck",
    724: "pirate ship",
    779: "school bus",
    780: "schooner",
    817: "sports car",
    820: "steam locomotive",
    825: "stone wall",
    829: "streetcar",
    920: "traffic light",
    933: "cheeseburger",
    937: "broccoli",
    949: "strawberry",
    950: "orange",
    954: "banana",
    963: "pizza",
    967: "espresso",
    970: "alp",
    972: "cliff",
    973: "coral reef",
    975: "lakeside",
    976: "promontory",
    978: "seashore",
    979: "valley",
    980: "volcano",
    985: "daisy",
}


def class_display(label: int) -> str:
    """'207 golden retriever', '512', or the 'Any' entry for the unconditional class."""
    if label == UNCONDITIONAL_CLASS or label < 0:
        return ANY_CLASS_LABEL
    name = COMMON_CLASSES.get(label)
    return f"{label} {name}" if name else str(label)


def choices() -> list[str]:
    return [ANY_CLASS_LABEL] + [class_display(label) for label in COMMON_CLASSES]


def parse_class(text: str) -> int | None:
    """A class id from what the user typed; None when it names nothing we know.

    Accepts '207', '207 golden retriever', 'golden retriever', a unique name prefix, or
    empty / 'any' for unconditional.
    """
    text = " ".join(text.strip().split())
    if not text or text.lower() in ("any", ANY_CLASS_LABEL.lower()):
        return UNCONDITIONAL_CLASS
    head = text.split(" ", 1)[0]
    if head.isdigit():
        number = int(head)
        return number if 0 <= number <= 999 else None
    lowered = text.lower()
    for label, name in COMMON_CLASSES.items():
        if name.lower() == lowered:
            return label
    matches = [label for label, name in COMMON_CLASSES.items() if name.lower().startswith(lowered)]
    return matches[0] if len(matches) == 1 else None
