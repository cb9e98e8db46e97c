"""The virtual fitting room: a shopper's own photo dressed in a catalog top (a 2-D garment transfer from the
catalog model's photo, offline on a CPU). Its one interface is `render.render(person_photo, product) ->
(image, report)`; `render.analyse_shopper` analyses a photo once for many products. This module itself is
light (no model imported): which products can be tried on."""

TOPWEAR = frozenset({"Tshirts", "Shirts", "Tops", "Kurtas", "Kurtis", "Tunics", "Sweaters", "Sweatshirts", "Jackets",
                     "Waistcoat", "Shrug"})


def can_try_on(product: dict) -> bool:
    """Whether a product is a top the fitting room dresses shoppers in."""
    return product.get("article_type") in TOPWEAR
