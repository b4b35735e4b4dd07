// The product page (/products/?id=<slug>): one page for every product. The
// gate filters its personalised blocks like any shop page; this script fills
// in the product itself from the catalogue (www/products/catalogue.json).

/** Shows the product named by `?id=`, or says that there is none. */
export async function showProduct() {
  const id = new URLSearchParams(location.search).get("id") || "";
  let product;
  try {
    const catalogue = await (await fetch("/products/catalogue.json")).json();
    product = Object.hasOwn(catalogue, id) ? catalogue[id] : undefined;
  } catch {
    product = undefined;
  }
  const field = (name) => document.querySelector(`[data-product-field="${name}"]`);
  if (!product) {
    document.title = "Product not found · Trailhead Outfitters";
    field("crumb").textContent = "Product not found";
    field("name").textContent = "We could not find that product";
    field("description").textContent = "It is not in our catalogue. Browse all gear instead.";
    document.querySelector("[data-demo-basket]")?.setAttribute("hidden", "");
    return;
  }
  document.title = `${product.name} · Trailhead Outfitters`;
  const crumb = field("crumb");
  crumb.textContent = product.name;
  crumb.href = `/products/?id=${encodeURIComponent(id)}`;
  const image = field("image");
  image.src = product.image;
  image.alt = `Illustration of the ${product.name}`;
  image.hidden = false;
  const category = field("category");
  category.textContent = product.category;
  category.hidden = false;
  field("name").textContent = product.name;
  field("price").textContent = product.price;
  field("description").textContent = product.description;
  field("specs").replaceChildren(...product.specs.map((text) => {
    const li = document.createElement("li");
    li.textContent = text;
    return li;
  }));
}
